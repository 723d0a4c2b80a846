// A patient record as the clerk submits it, and the diagnosis the API answers. The record is
// checked once at the API's boundary; only the 30 WDBC features go on to the diagnostics service.
import { SdkError } from '@subrosa/sdk'

/** The number of features of the WDBC model (fine-needle-aspirate image measurements). */
export const FEATURE_COUNT = 30

/** A patient record: an id, who the patient is, and the 30 measurements to diagnose. */
export type PatientRecord = {
  readonly recordId: string
  readonly patient: { readonly name: string; readonly birthDate: string }
  readonly features: readonly number[]
}

/** What the API answers for a record. */
export type Diagnosis = {
  readonly recordId: string
  readonly diagnosis: 'malignant' | 'benign'
  readonly pMalignant: number
  /** What the API verified of the diagnostics service before sending it the features. */
  readonly diagnostics: {
    readonly workload: string
    readonly tee: string
    readonly insecure: boolean
    readonly measurement: string
    readonly tlsCertSha256: string
    readonly url: string
  }
  /** Where the sealed record is in Redis (a pseudonym: it reveals nothing of the record id). */
  readonly cacheKey: string
}

/**
 * Check an untrusted payload and return it as a record.
 *
 * @example parseRecord({ recordId: 'r-1', patient: { name: 'A', birthDate: '1970-01-01' }, features })
 * @throws SdkError `ERR_ATTESTED_REQUEST` naming the field (never its value).
 */
export function parseRecord(payload: Record<string, unknown>): PatientRecord {
  const { recordId, patient, features } = payload
  if (typeof recordId !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(recordId))
    throw refused('recordId must be 1-64 characters of [A-Za-z0-9._-]')
  if (typeof patient !== 'object' || patient === null || Array.isArray(patient))
    throw refused('patient must be an object')
  const { name, birthDate } = patient as Record<string, unknown>
  if (typeof name !== 'string' || name.length === 0 || name.length > 200)
    throw refused('patient.name must be a string of 1-200 characters')
  if (typeof birthDate !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(birthDate))
    throw refused('patient.birthDate must be YYYY-MM-DD')
  if (
    !Array.isArray(features) ||
    features.length !== FEATURE_COUNT ||
    !features.every((f) => typeof f === 'number' && Number.isFinite(f))
  )
    throw refused(`features must be ${FEATURE_COUNT} finite numbers`)
  return { recordId, patient: { name, birthDate }, features: features as number[] }
}

function refused(message: string): SdkError {
  return new SdkError('ERR_ATTESTED_REQUEST', `The record is not valid: ${message}`)
}
