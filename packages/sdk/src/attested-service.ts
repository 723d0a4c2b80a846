import { timingSafeEqual } from 'node:crypto'
import { isSubrosaError, utf8 } from '@subrosa/core'
import {
  type EarClaims,
  type TeePublicKey,
  TLS_CERT_SHA256_CLAIM,
  teePublicKeyOf,
  tlsCertificateSha256,
  verifyEarToken,
} from '@subrosa/protocol'
import { decodeJwt, type JSONWebKeySet } from 'jose'
import { SdkError, type SdkErrorCode } from './errors.ts'

/**
 * What a caller requires of an attested service before it sends a byte of payload. The broker
 * is pinned by `issuer` and `jwks` (fetch them over the pinned broker connection, e.g.
 * `fetchJwks`); a URL inside the token is never followed.
 */
export type ServiceExpectation = {
  /** The broker's issuer URL (`/.well-known/subrosa-broker`). */
  readonly issuer: string
  /** The broker's JWKS (`/.well-known/jwks.json`). */
  readonly jwks: JSONWebKeySet
  /** The policy workload the service must be: `<namespace>/<policy>/<workload>`. */
  readonly namespace: string
  readonly policy: string
  readonly workload: string
  /** Accepted primary measurements (hex: sim/SNP measurement, SGX MRENCLAVE, TDX MRTD). */
  readonly measurement?: string | readonly string[]
  /** Accepted signers (hex: SGX MRSIGNER, SNP author or ID key digest). */
  readonly signer?: string | readonly string[]
  /** Pin one policy version by its hash (`sha384:<hex>`), if wanted. */
  readonly policyHash?: string
  /** Accepted platform TCB statuses (SGX, TDX); default `['UpToDate']`. */
  readonly tcbStatuses?: readonly string[]
  /** Accept the sim TEE (no hardware protection). Default false. */
  readonly allowSim?: boolean
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
 * appraisal status, debug, measurement, signer, TCB status, TLS certificate binding.
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
  checkExpectation(expectation)
  if (typeof token !== 'string') fail('ERR_ATTESTED_TOKEN', 'The service answered without a token')
  let issuer: unknown
  try {
    issuer = decodeJwt(token).iss
  } catch (cause) {
    fail('ERR_ATTESTED_TOKEN', 'The service token is not a JWT', cause)
  }
  if (issuer !== expectation.issuer)
    fail('ERR_ATTESTED_ISSUER', 'The service token is not issued by the expected broker')
  let claims: EarClaims
  try {
    claims = await verifyEarToken(token, {
      jwks: expectation.jwks,
      issuer: expectation.issuer,
      now: context.now,
    })
  } catch (cause) {
    const code = isSubrosaError(cause) ? cause.code : ''
    if (code === 'ERR_TOKEN_SIGNATURE')
      fail('ERR_ATTESTED_SIGNATURE', 'The service token is not signed by the broker', cause)
    if (code === 'ERR_TOKEN_EXPIRED')
      fail('ERR_ATTESTED_EXPIRED', 'The service token is expired or not yet valid', cause)
    fail('ERR_ATTESTED_TOKEN', 'The service token is malformed or lacks EAR claims', cause)
  }
  const w = claims['subrosa.workload']
  if (
    w.namespace !== expectation.namespace ||
    w.policy !== expectation.policy ||
    w.workload !== expectation.workload
  )
    fail(
      'ERR_ATTESTED_WORKLOAD',
      `The service is attested as ${w.namespace}/${w.policy}/${w.workload}, not ${expectation.namespace}/${expectation.policy}/${expectation.workload}`,
    )
  if (expectation.policyHash !== undefined && w.policyHash !== expectation.policyHash)
    fail('ERR_ATTESTED_POLICY', 'The service was attested under another policy version')
  const submod = claims.submods.cpu0
  const evidence = submod['ear.veraison.annotated-evidence']
  const insecure =
    claims['subrosa.insecure'] || claims['subrosa.tee'] === 'sim' || evidence.insecure !== false
  if (insecure && expectation.allowSim !== true)
    fail('ERR_ATTESTED_SIM', 'The service runs in the sim TEE, which this caller does not allow')
  const status = submod['ear.status']
  if (!(status === 'affirming' || (status === 'warning' && insecure)))
    fail('ERR_ATTESTED_STATUS', `The broker's appraisal of the service is ${status}`)
  if (evidence.debug !== false) fail('ERR_ATTESTED_DEBUG', 'The service runs in a debug-mode TEE')
  const measurement = text(evidence[measurementField(evidence.tee)])
  if (expectation.measurement !== undefined && !oneOf(measurement, expectation.measurement))
    fail('ERR_ATTESTED_MEASUREMENT', 'The service runs another measurement than expected')
  if (expectation.signer !== undefined) {
    const signer =
      evidence.tee === 'sgx'
        ? text(evidence.mrsigner)
        : text(evidence.authorKeyDigest) || text(evidence.idKeyDigest)
    if (!oneOf(signer, expectation.signer))
      fail('ERR_ATTESTED_SIGNER', 'The service is signed by another signer than expected')
  }
  const tcb = evidence.tcbStatus
  const hasTcb = evidence.tee === 'sgx' || evidence.tee === 'tdx' || tcb !== undefined
  if (hasTcb && !(expectation.tcbStatuses ?? ['UpToDate']).includes(text(tcb)))
    fail(
      'ERR_ATTESTED_TCB',
      `The service's platform TCB status ${text(tcb) || '(none)'} is not allowed`,
    )
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
    tee: claims['subrosa.tee'],
    insecure,
    measurement,
    tlsCertSha256: presented,
  }
}

function checkExpectation(e: ServiceExpectation): void {
  const named = [e.issuer, e.namespace, e.policy, e.workload].every(
    (x) => typeof x === 'string' && x !== '',
  )
  const pinned = nonEmpty(e.measurement) || nonEmpty(e.signer)
  if (!named || !Array.isArray(e.jwks?.keys) || !pinned)
    fail(
      'ERR_ATTESTED_EXPECTATION',
      'An expectation needs issuer, jwks, namespace, policy, workload and a measurement or signer',
    )
}

function nonEmpty(value: string | readonly string[] | undefined): boolean {
  return typeof value === 'string' ? value !== '' : value !== undefined && value.length > 0
}

function oneOf(actual: string, accepted: string | readonly string[]): boolean {
  const list = typeof accepted === 'string' ? [accepted] : accepted
  return actual !== '' && list.some((x) => x.toLowerCase() === actual.toLowerCase())
}

function measurementField(tee: unknown): string {
  return tee === 'sgx' ? 'mrenclave' : tee === 'tdx' ? 'mrtd' : 'measurement'
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : ''
}

function fail(code: SdkErrorCode, message: string, cause?: unknown): never {
  throw new SdkError(code, message, cause === undefined ? {} : { cause })
}
