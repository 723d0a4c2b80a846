// The clerk's client of the healthcare example (in production: the portal's back end, itself an
// attested workload). It trades its token for one the API accepts, verifies the API's attestation
// with `attestedFetch` before a byte of the record leaves, and reads the diagnosis, which only it
// can decrypt.
import {
  attestedFetch,
  type BrokerClient,
  exchangeToken,
  type ServiceExpectation,
  type VerifiedService,
} from '@subrosa/sdk'
import type { Diagnosis, PatientRecord } from './record.ts'

/** What the clerk learned: the diagnosis and what it verified of the API. */
export type Submission = { readonly answer: Diagnosis; readonly api: VerifiedService }

/**
 * Submit one record to the API.
 *
 * @example const { answer } = await submitRecord(client, clerkToken, apiUrl, expectation, record)
 * @throws SdkError `ERR_ATTESTED_*` (the API is not what `expectation` says, or refused: then
 * `ERR_ATTESTED_REFUSED` with `details.code`); BrokerCallError from the token exchange.
 */
export async function submitRecord(
  client: BrokerClient,
  clerkToken: string,
  apiUrl: string,
  expectation: ServiceExpectation,
  record: PatientRecord,
  options: { readonly audience?: string; readonly callerToken?: string } = {},
): Promise<Submission> {
  const callerToken =
    options.callerToken ??
    (await exchangeToken(client, clerkToken, options.audience ?? 'api')).token
  const { body, service } = await attestedFetch(`${apiUrl}/records`, expectation, {
    payload: record,
    callerToken,
  })
  return { answer: body as Diagnosis, api: service }
}
