// The clerk portal's protocol (ADR 0031): pin the broker's issuer and JWKS, fetch the service's
// EAR token, appraise it with @subrosa/protocol's appraiseServiceToken (the SDK's very checks),
// then encrypt the record to the attested key (JWE as attestedFetch sends it, with a fresh reply
// key inside), authorize it with a short-lived proof signed by the clerk's key, and decrypt the
// answer. Browsers cannot see the service's TLS certificate: confidentiality rests on the JWE.
import {
  appraiseServiceToken,
  type ServiceCheck,
  type ServiceFacts,
  type ServiceTokenExpectation,
} from '@subrosa/protocol'
import {
  CompactEncrypt,
  type CryptoKey,
  compactDecrypt,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  SignJWT,
} from 'jose'
import { digest, toBase64Url, utf8 } from './bytes.ts'
import type { OwnerSession } from './owner-key.ts'

/** The attested-request JWE algorithms (the SDK's `ATTESTED_JWE`; checked by web-parity.test). */
export const ATTESTED_JWE = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM' } as const
/** `typ` of a clerk proof and the route it authorizes (the healthcare API's clerk-auth.ts). */
export const CLERK_PROOF_TYP = 'subrosa-clerk+jwt'
export const CLERK_RECORDS_PATH = '/v1/clerk/records'
export const ATTESTATION_PATH = '/v1/attestation'

/** What `subrosa portal --service ...` puts in config.json for the clerk view. */
export type ClerkConfig = {
  /** The service's https base URL. */
  readonly service: string
  /** The service's name, the audience of clerk proofs (e.g. `api`). */
  readonly audience: string
  /** `<namespace>/<policy>/<workload>` the service must be attested as. */
  readonly workload: string
  readonly measurement: readonly string[]
  readonly signer: readonly string[]
  readonly tcbStatuses?: readonly string[]
  readonly allowSim: boolean
}

/** A clerk or service failure the view explains; `code` is stable (`ERR_ATTESTED_*`, ...). */
export class ClerkError extends Error {
  override readonly name = 'ClerkError'
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

/** The pinned broker: what the service's token must be issued and signed by. */
export type BrokerPins = { readonly issuer: string; readonly jwks: JSONWebKeySet }

/** A service that passed every check, with the key to encrypt to. */
export type VerifiedService = {
  readonly ok: true
  readonly facts: ServiceFacts
  readonly key: CryptoKey
}

/** A service that failed a check: which one, in plain words, and what the token said. */
export type RefusedService = {
  readonly ok: false
  readonly check: ServiceCheck | 'connect'
  readonly code: string
  readonly message: string
  readonly facts: ServiceFacts | undefined
}

async function getJson(url: string, what: string): Promise<unknown> {
  let res: Response
  try {
    res = await fetch(url, {
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      headers: { accept: 'application/json' },
    })
  } catch {
    throw new ClerkError(
      'ERR_PORTAL_NETWORK',
      `Cannot reach ${what} at ${new URL(url).origin}: is it running, and does it allow this origin?`,
    )
  }
  if (!res.ok) throw new ClerkError('ERR_PORTAL_HTTP', `${what} answered ${res.status}`)
  return res.json()
}

/** The broker's issuer and JWKS, fetched from the configured (pinned) broker. */
export async function loadBrokerPins(broker: string): Promise<BrokerPins> {
  const known = (await getJson(`${broker}/.well-known/subrosa-broker`, 'The broker')) as {
    issuer?: unknown
  }
  const jwks = (await getJson(`${broker}/.well-known/jwks.json`, 'The broker')) as JSONWebKeySet
  if (typeof known.issuer !== 'string' || !Array.isArray(jwks?.keys))
    throw new ClerkError('ERR_PORTAL_HTTP', 'The broker published no issuer or JWKS')
  return { issuer: known.issuer, jwks }
}

/** The expectation of `config`, in the SDK's terms. */
export function expectationOf(config: ClerkConfig, pins: BrokerPins): ServiceTokenExpectation {
  const [namespace = '', policy = '', workload = ''] = config.workload.split('/')
  return {
    issuer: pins.issuer,
    jwks: pins.jwks,
    namespace,
    policy,
    workload,
    ...(config.measurement.length > 0 ? { measurement: config.measurement } : {}),
    ...(config.signer.length > 0 ? { signer: config.signer } : {}),
    ...(config.tcbStatuses === undefined ? {} : { tcbStatuses: config.tcbStatuses }),
    allowSim: config.allowSim,
  }
}

/**
 * Fetch the service's token and check it; never throws for a service that fails a check (the
 * view shows why), only the refusal. Nothing of the record is involved.
 */
export async function verifyService(
  config: ClerkConfig,
  pins: BrokerPins,
  now: Date,
): Promise<VerifiedService | RefusedService> {
  let token: unknown
  try {
    token = (
      (await getJson(`${config.service}${ATTESTATION_PATH}`, 'The service')) as {
        token?: unknown
      }
    )?.token
  } catch (error) {
    const e = error as ClerkError
    return { ok: false, check: 'connect', code: e.code, message: e.message, facts: undefined }
  }
  const appraisal = await appraiseServiceToken(token, expectationOf(config, pins), { now })
  if (!appraisal.ok)
    return {
      ok: false,
      check: appraisal.check,
      code: `ERR_ATTESTED_${appraisal.check.toUpperCase()}`,
      message: appraisal.message,
      facts: appraisal.facts,
    }
  const akpub = appraisal.claims.submods.cpu0['ear.veraison.key-attestation'].akpub
  try {
    const der = Uint8Array.from(atob(akpub.replace(/-/g, '+').replace(/_/g, '/')), (c) =>
      c.charCodeAt(0),
    )
    const key = await crypto.subtle.importKey(
      'spki',
      der,
      { name: 'ECDH', namedCurve: 'P-256' },
      true,
      [],
    )
    return { ok: true, facts: appraisal.facts, key }
  } catch {
    return {
      ok: false,
      check: 'token',
      code: 'ERR_ATTESTED_TOKEN',
      message: 'The service token attests no usable P-256 key',
      facts: appraisal.facts,
    }
  }
}

/** The key id of a clerk proof: the RFC 7638 thumbprint (the owner-key id without its URN). */
export function clerkKeyId(clerk: OwnerSession): string {
  return clerk.id.slice(clerk.id.lastIndexOf(':') + 1)
}

/** The request of {@link sendRecord}: the encrypted body and its proof (exported for tests). */
export async function sealRecord(
  record: Readonly<Record<string, unknown>>,
  service: VerifiedService,
  clerk: OwnerSession,
  audience: string,
): Promise<{ jwe: string; proof: string; replyKey: CryptoKey }> {
  const reply = await generateKeyPair(ATTESTED_JWE.alg, { extractable: false })
  const { kty, crv, x, y } = await exportJWK(reply.publicKey)
  const jwe = await new CompactEncrypt(
    utf8(JSON.stringify({ ...record, replyKey: { kty, crv, x, y } })),
  )
    .setProtectedHeader({ ...ATTESTED_JWE })
    .encrypt(service.key)
  const bsh = toBase64Url(await digest('SHA-256', utf8(jwe)))
  const proof = await new SignJWT({ bsh })
    .setProtectedHeader({ alg: 'ES256', typ: CLERK_PROOF_TYP, kid: clerkKeyId(clerk) })
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime('60s')
    .setJti(crypto.randomUUID())
    .sign(clerk.privateKey)
  return { jwe, proof, replyKey: reply.privateKey }
}

/**
 * Encrypt `record` to the verified service, send it with a clerk proof, and decrypt the answer.
 *
 * @throws ClerkError with the service's refusal code, `ERR_PORTAL_NETWORK`, or
 * `ERR_ATTESTED_RESPONSE` when the answer is not encrypted to this request's reply key.
 */
export async function sendRecord(
  config: ClerkConfig,
  service: VerifiedService,
  clerk: OwnerSession,
  record: Readonly<Record<string, unknown>>,
): Promise<unknown> {
  const { jwe, proof, replyKey } = await sealRecord(record, service, clerk, config.audience)
  let res: Response
  try {
    res = await fetch(`${config.service}${CLERK_RECORDS_PATH}`, {
      method: 'POST',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
      headers: {
        accept: 'application/jose',
        authorization: `Bearer ${proof}`,
        'content-type': 'application/jose',
      },
      body: jwe,
    })
  } catch {
    throw new ClerkError('ERR_PORTAL_NETWORK', 'The service cannot be reached')
  }
  const text = await res.text()
  if (!res.ok) {
    let code = 'ERR_PORTAL_HTTP'
    let detail = `The service answered ${res.status}`
    try {
      const problem = JSON.parse(text) as { code?: unknown; detail?: unknown }
      if (typeof problem.code === 'string') code = problem.code
      if (typeof problem.detail === 'string') detail = problem.detail
    } catch {
      // Not a problem document: the status says enough.
    }
    throw new ClerkError(code, detail)
  }
  try {
    const { plaintext } = await compactDecrypt(text.trim(), replyKey, {
      keyManagementAlgorithms: [ATTESTED_JWE.alg],
      contentEncryptionAlgorithms: [ATTESTED_JWE.enc],
    })
    return JSON.parse(new TextDecoder().decode(plaintext))
  } catch {
    throw new ClerkError('ERR_ATTESTED_RESPONSE', 'The answer is not encrypted to this request')
  }
}
