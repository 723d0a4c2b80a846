// What a caller requires of an attested service's EAR token, checked in one place for every
// caller: the SDK's `verifyServiceToken` (Node, which adds the TLS certificate binding) and the
// clerk portal (the browser, which cannot see the certificate). Pure: no Node built-in is called,
// so the portal bundles it. ADR 0031.
import { isSubrosaError } from '@subrosa/core'
import { decodeJwt, type JSONWebKeySet } from 'jose'
import { type EarClaims, type EarStatus, verifyEarToken } from './ear.ts'

/**
 * What a caller requires of an attested service before it sends a byte of payload. The broker
 * is pinned by `issuer` and `jwks`; a URL inside the token is never followed.
 */
export type ServiceTokenExpectation = {
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
}

/** The checks of {@link appraiseServiceToken}, in order; `ERR_ATTESTED_<CHECK>` in the SDK. */
export const SERVICE_CHECKS = [
  'expectation',
  'token',
  'issuer',
  'signature',
  'expired',
  'workload',
  'policy',
  'sim',
  'status',
  'debug',
  'measurement',
  'signer',
  'tcb',
] as const

export type ServiceCheck = (typeof SERVICE_CHECKS)[number]

/** What a verified token says about the service, for display and logs (no key, no token). */
export type ServiceFacts = {
  /** `<namespace>/<policy>/<workload>`. */
  readonly workload: string
  readonly policyHash: string
  readonly policyVersion: number
  readonly tee: string
  /** No hardware protection (the sim TEE, or evidence the broker marked insecure). */
  readonly insecure: boolean
  readonly debug: boolean
  readonly status: EarStatus
  /** Primary measurement (hex), `''` when the evidence has none. */
  readonly measurement: string
  /** Signer (hex: MRSIGNER, SNP author/ID key digest), `''` when none. */
  readonly signer: string
  /** Platform TCB status, when the TEE reports one. */
  readonly tcbStatus: string | undefined
  readonly expiresAt: Date
}

/** The outcome of {@link appraiseServiceToken}: the first failed check, or the verified claims. */
export type ServiceAppraisal =
  | { readonly ok: true; readonly claims: EarClaims; readonly facts: ServiceFacts }
  | {
      readonly ok: false
      readonly check: ServiceCheck
      readonly message: string
      /** What the (signature-verified) token says, when it got that far. */
      readonly facts: ServiceFacts | undefined
      readonly cause: unknown
    }

/**
 * Appraise a service's EAR token against an expectation at a given time. Checks in order:
 * expectation, token, issuer, signature, expiry, workload, policy hash, sim, appraisal status,
 * debug, measurement, signer, TCB status. Returns the first failure (with a message that never
 * contains the token) so that each caller can throw its own error or explain it in plain words;
 * it does not check the TLS binding (the SDK does) or extract the attested key.
 *
 * @example
 * const a = await appraiseServiceToken(token, expectation, { now: new Date() })
 * if (!a.ok) throw new SdkError(`ERR_ATTESTED_${a.check.toUpperCase()}`, a.message)
 */
export async function appraiseServiceToken(
  token: unknown,
  expectation: ServiceTokenExpectation,
  context: { readonly now: Date },
): Promise<ServiceAppraisal> {
  const refuse = (
    check: ServiceCheck,
    message: string,
    facts?: ServiceFacts,
    cause?: unknown,
  ): ServiceAppraisal => ({ ok: false, check, message, facts, cause })
  if (!completeExpectation(expectation))
    return refuse(
      'expectation',
      'An expectation needs issuer, jwks, namespace, policy, workload and a measurement or signer',
    )
  if (typeof token !== 'string') return refuse('token', 'The service answered without a token')
  let issuer: unknown
  try {
    issuer = decodeJwt(token).iss
  } catch (cause) {
    return refuse('token', 'The service token is not a JWT', undefined, cause)
  }
  if (issuer !== expectation.issuer)
    return refuse('issuer', 'The service token is not issued by the expected broker')
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
      return refuse('signature', 'The service token is not signed by the broker', undefined, cause)
    if (code === 'ERR_TOKEN_EXPIRED')
      return refuse('expired', 'The service token is expired or not yet valid', undefined, cause)
    return refuse('token', 'The service token is malformed or lacks EAR claims', undefined, cause)
  }
  const facts = factsOf(claims)
  const w = claims['subrosa.workload']
  const expected = `${expectation.namespace}/${expectation.policy}/${expectation.workload}`
  if (facts.workload !== expected)
    return refuse(
      'workload',
      `The service is attested as ${facts.workload}, not ${expected}`,
      facts,
    )
  if (expectation.policyHash !== undefined && w.policyHash !== expectation.policyHash)
    return refuse('policy', 'The service was attested under another policy version', facts)
  if (facts.insecure && expectation.allowSim !== true)
    return refuse('sim', 'The service runs in the sim TEE, which this caller does not allow', facts)
  if (!(facts.status === 'affirming' || (facts.status === 'warning' && facts.insecure)))
    return refuse('status', `The broker's appraisal of the service is ${facts.status}`, facts)
  if (facts.debug) return refuse('debug', 'The service runs in a debug-mode TEE', facts)
  if (expectation.measurement !== undefined && !oneOf(facts.measurement, expectation.measurement))
    return refuse('measurement', 'The service runs another measurement than expected', facts)
  if (expectation.signer !== undefined && !oneOf(facts.signer, expectation.signer))
    return refuse('signer', 'The service is signed by another signer than expected', facts)
  const evidence = claims.submods.cpu0['ear.veraison.annotated-evidence']
  const hasTcb = evidence.tee === 'sgx' || evidence.tee === 'tdx' || facts.tcbStatus !== undefined
  if (hasTcb && !(expectation.tcbStatuses ?? ['UpToDate']).includes(facts.tcbStatus ?? ''))
    return refuse(
      'tcb',
      `The service's platform TCB status ${facts.tcbStatus || '(none)'} is not allowed`,
      facts,
    )
  return { ok: true, claims, facts }
}

/** The facts of verified claims. */
function factsOf(claims: EarClaims): ServiceFacts {
  const w = claims['subrosa.workload']
  const submod = claims.submods.cpu0
  const evidence = submod['ear.veraison.annotated-evidence']
  const tcb = evidence.tcbStatus
  return {
    workload: `${w.namespace}/${w.policy}/${w.workload}`,
    policyHash: w.policyHash,
    policyVersion: w.policyVersion,
    tee: claims['subrosa.tee'],
    insecure:
      claims['subrosa.insecure'] || claims['subrosa.tee'] === 'sim' || evidence.insecure !== false,
    debug: evidence.debug !== false,
    status: submod['ear.status'],
    measurement: text(evidence[measurementField(evidence.tee)]),
    signer:
      evidence.tee === 'sgx'
        ? text(evidence.mrsigner)
        : text(evidence.authorKeyDigest) || text(evidence.idKeyDigest),
    tcbStatus: tcb === undefined ? undefined : text(tcb),
    expiresAt: new Date(claims.exp * 1000),
  }
}

function completeExpectation(e: ServiceTokenExpectation): boolean {
  const named = [e.issuer, e.namespace, e.policy, e.workload].every(
    (x) => typeof x === 'string' && x !== '',
  )
  const pinned = nonEmpty(e.measurement) || nonEmpty(e.signer)
  return named && Array.isArray(e.jwks?.keys) && pinned
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
