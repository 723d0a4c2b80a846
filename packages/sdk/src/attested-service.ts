import { timingSafeEqual } from 'node:crypto'
import { utf8 } from '@subrosa/core'
import {
  appraiseServiceToken,
  type EarClaims,
  type ServiceCheck,
  type ServiceTokenExpectation,
  type TeePublicKey,
  TLS_CERT_SHA256_CLAIM,
  teePublicKeyOf,
  tlsCertificateSha256,
} from '@subrosa/protocol'
import { SdkError, type SdkErrorCode } from './errors.ts'

/**
 * What a caller requires of an attested service before it sends a byte of payload. The broker
 * is pinned by `issuer` and `jwks` (fetch them over the pinned broker connection, e.g.
 * `fetchJwks`); a URL inside the token is never followed.
 */
export type ServiceExpectation = ServiceTokenExpectation & {
  /**
   * CA (PEM) the service's TLS certificate must chain to, with the host name checked. Absent:
   * the certificate is trusted only through the token's `subrosa.tls-cert-sha256` binding.
   */
  readonly ca?: string
}

/** An attested service that met the expectation. */
export type VerifiedService = {
  readonly claims: EarClaims
  /** The service's request-encryption key (the token's `akpub`). */
  readonly key: TeePublicKey
  readonly tee: string
  readonly insecure: boolean
  readonly measurement: string
  /** base64url SHA-256 of the TLS certificate the token binds and the connection presented. */
  readonly tlsCertSha256: string
}

/**
 * Check a service's EAR token against an expectation and the certificate its TLS connection
 * presented. Checks in order: issuer, signature and validity, workload, policy hash, sim,
 * appraisal status, debug, measurement, signer, TCB status (`appraiseServiceToken` of
 * `@subrosa/protocol`, shared with the clerk portal), then the TLS certificate binding.
 *
 * @example
 * const service = await verifyServiceToken(token, expectation, { peerCertificate, now: new Date() })
 * service.key // encrypt requests to it
 * @throws SdkError `ERR_ATTESTED_EXPECTATION`, `ERR_ATTESTED_TOKEN`, `ERR_ATTESTED_ISSUER`,
 * `ERR_ATTESTED_SIGNATURE`, `ERR_ATTESTED_EXPIRED`, `ERR_ATTESTED_WORKLOAD`,
 * `ERR_ATTESTED_POLICY`, `ERR_ATTESTED_SIM`, `ERR_ATTESTED_STATUS`, `ERR_ATTESTED_DEBUG`,
 * `ERR_ATTESTED_MEASUREMENT`, `ERR_ATTESTED_SIGNER`, `ERR_ATTESTED_TCB`,
 * `ERR_ATTESTED_TLS_BINDING`.
 */
export async function verifyServiceToken(
  token: unknown,
  expectation: ServiceExpectation,
  context: { readonly peerCertificate: Uint8Array; readonly now: Date },
): Promise<VerifiedService> {
  const appraisal = await appraiseServiceToken(token, expectation, { now: context.now })
  if (!appraisal.ok) fail(CHECK_CODES[appraisal.check], appraisal.message, appraisal.cause)
  const { claims, facts } = appraisal
  const bound = claims[TLS_CERT_SHA256_CLAIM]
  const presented = tlsCertificateSha256(context.peerCertificate)
  if (
    bound === undefined ||
    bound.length !== presented.length ||
    !timingSafeEqual(utf8(bound), utf8(presented))
  )
    fail(
      'ERR_ATTESTED_TLS_BINDING',
      bound === undefined
        ? 'The service token binds no TLS certificate'
        : 'The TLS certificate of this connection is not the one the service token binds',
    )
  let key: TeePublicKey
  try {
    key = teePublicKeyOf(claims)
  } catch (cause) {
    fail('ERR_ATTESTED_TOKEN', 'The service token attests no usable P-256 key', cause)
  }
  return {
    claims,
    key,
    tee: facts.tee,
    insecure: facts.insecure,
    measurement: facts.measurement,
    tlsCertSha256: presented,
  }
}

/** The SDK code of each failed check of `appraiseServiceToken`. */
const CHECK_CODES: Readonly<Record<ServiceCheck, SdkErrorCode>> = {
  expectation: 'ERR_ATTESTED_EXPECTATION',
  token: 'ERR_ATTESTED_TOKEN',
  issuer: 'ERR_ATTESTED_ISSUER',
  signature: 'ERR_ATTESTED_SIGNATURE',
  expired: 'ERR_ATTESTED_EXPIRED',
  workload: 'ERR_ATTESTED_WORKLOAD',
  policy: 'ERR_ATTESTED_POLICY',
  sim: 'ERR_ATTESTED_SIM',
  status: 'ERR_ATTESTED_STATUS',
  debug: 'ERR_ATTESTED_DEBUG',
  measurement: 'ERR_ATTESTED_MEASUREMENT',
  signer: 'ERR_ATTESTED_SIGNER',
  tcb: 'ERR_ATTESTED_TCB',
}

function fail(code: SdkErrorCode, message: string, cause?: unknown): never {
  throw new SdkError(code, message, cause === undefined ? {} : { cause })
}
