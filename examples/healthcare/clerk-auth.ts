// The API's browser route for human clerks (the clerk portal, ADR 0031). A clerk is not an
// attested workload: it holds a P-256 key in its browser, and the API lists the public keys it
// accepts. Each request carries a short-lived JWS signed by that key (aud = the API, at most 60 s,
// a jti the API accepts once, and the SHA-256 of the very body it authorizes), verified BEFORE
// the record is decrypted. CORS answers only the portal origins the API was given.
import { createHash, timingSafeEqual } from 'node:crypto'
import { toBase64Url, utf8 } from '@subrosa/core'
import { ProtocolError } from '@subrosa/protocol'
import type { ReplayCache } from '@subrosa/sdk'
import { calculateJwkThumbprint, errors, importJWK, type JWK, jwtVerify } from 'jose'

/** Where the portal posts records (JWE, as attestedFetch sends them). */
export const CLERK_RECORDS_PATH = '/v1/clerk/records'
/** `typ` of a clerk proof, so that no other JWT is accepted in its place. */
export const CLERK_PROOF_TYP = 'subrosa-clerk+jwt'
/** Longest lifetime (exp - iat) of a clerk proof. */
export const CLERK_PROOF_MAX_SECONDS = 60

/** The clerk keys an API accepts, by RFC 7638 thumbprint (the proof's `kid`). */
export type ClerkKeyring = ReadonlyMap<string, JWK>

/** Who submitted: the thumbprint of the clerk's key. */
export type ClerkCaller = { readonly clerk: string }

/**
 * Index public P-256 JWKs by thumbprint.
 *
 * @example const keyring = await clerkKeyring([JSON.parse(await readFile('clerk.pub.jwk', 'utf8'))])
 * @throws TypeError when a key is not a public EC P-256 JWK.
 */
export async function clerkKeyring(keys: readonly JWK[]): Promise<ClerkKeyring> {
  const out = new Map<string, JWK>()
  for (const key of keys) {
    if (key.kty !== 'EC' || key.crv !== 'P-256' || key.d !== undefined || !key.x || !key.y)
      throw new TypeError('A clerk key must be a public EC P-256 JWK')
    const bare = { kty: key.kty, crv: key.crv, x: key.x, y: key.y }
    out.set(await calculateJwkThumbprint(bare, 'sha256'), bare)
  }
  return out
}

/** Options of {@link verifyClerkProof}. */
export type VerifyClerkProofOptions = {
  readonly keyring: ClerkKeyring
  /** The API's name; the proof's `aud`. */
  readonly audience: string
  readonly replayCache: ReplayCache
  readonly now: Date
}

/**
 * Verify a clerk proof for `body`: signed by a listed key, for this API, unexpired and at most
 * 60 s long, bound to the body's SHA-256, and its jti never seen before.
 *
 * @example const { clerk } = await verifyClerkProof(bearer, body, { keyring, audience: 'api', replayCache, now })
 * @throws ProtocolError `ERR_TOKEN_SIGNATURE` (unlisted key, bad signature), `ERR_TOKEN_AUDIENCE`,
 * `ERR_TOKEN_EXPIRED`, `ERR_TOKEN_CLAIMS` (lifetime, body binding, typ), `ERR_TOKEN_INVALID`,
 * `ERR_TOKEN_REPLAY`; SdkError `ERR_SDK_CACHE_UNAVAILABLE`.
 */
export async function verifyClerkProof(
  proof: string,
  body: Uint8Array,
  options: VerifyClerkProofOptions,
): Promise<ClerkCaller> {
  let payload: Record<string, unknown>
  let kid: string | undefined
  try {
    const result = await jwtVerify(
      proof,
      async (header) => {
        kid = header.kid
        const jwk = kid === undefined ? undefined : options.keyring.get(kid)
        if (jwk === undefined) throw new errors.JWKSNoMatchingKey()
        return importJWK(jwk, 'ES256')
      },
      {
        algorithms: ['ES256'],
        typ: CLERK_PROOF_TYP,
        audience: options.audience,
        currentDate: options.now,
        requiredClaims: ['iat', 'exp', 'jti'],
        maxTokenAge: CLERK_PROOF_MAX_SECONDS,
      },
    )
    payload = result.payload as Record<string, unknown>
  } catch (cause) {
    throw proofError(cause)
  }
  const { iat, exp, jti } = payload as { iat: number; exp: number; jti: unknown }
  if (exp - iat > CLERK_PROOF_MAX_SECONDS || typeof jti !== 'string' || jti.length < 16)
    throw new ProtocolError(
      'ERR_TOKEN_CLAIMS',
      `Clerk proof must live at most ${CLERK_PROOF_MAX_SECONDS} s and carry a jti of 16+ characters`,
    )
  const bound = utf8(typeof payload.bsh === 'string' ? payload.bsh : '')
  const actual = utf8(toBase64Url(new Uint8Array(createHash('sha256').update(body).digest())))
  if (bound.length !== actual.length || !timingSafeEqual(bound, actual))
    throw new ProtocolError('ERR_TOKEN_CLAIMS', 'Clerk proof is for another request body')
  if (!(await options.replayCache.remember(`clerk:${jti}`, new Date(exp * 1000), options.now)))
    throw new ProtocolError('ERR_TOKEN_REPLAY', 'Clerk proof was presented before')
  return { clerk: kid as string }
}

function proofError(cause: unknown): ProtocolError {
  const code =
    cause instanceof errors.JWTExpired
      ? 'ERR_TOKEN_EXPIRED'
      : cause instanceof errors.JWTClaimValidationFailed
        ? cause.claim === 'aud'
          ? 'ERR_TOKEN_AUDIENCE'
          : cause.claim === 'iat'
            ? 'ERR_TOKEN_EXPIRED'
            : 'ERR_TOKEN_CLAIMS'
        : cause instanceof errors.JWSSignatureVerificationFailed ||
            cause instanceof errors.JWKSNoMatchingKey
          ? 'ERR_TOKEN_SIGNATURE'
          : 'ERR_TOKEN_INVALID'
  const why: Record<string, string> = {
    ERR_TOKEN_EXPIRED: 'is expired or not yet valid',
    ERR_TOKEN_AUDIENCE: 'is for another service',
    ERR_TOKEN_CLAIMS: 'lacks a required claim or has the wrong type',
    ERR_TOKEN_SIGNATURE: 'is not signed by a listed clerk key',
    ERR_TOKEN_INVALID: 'is malformed or uses an unsupported algorithm',
  }
  return new ProtocolError(code, `Clerk proof ${why[code]}`, { cause })
}

/**
 * CORS headers for a request from `origin`: none unless the origin is listed exactly. No
 * credentials mode: the clerk proof is per request, never a cookie.
 */
export function corsHeaders(
  origin: string | undefined,
  allowed: readonly string[],
): Record<string, string> {
  if (origin === undefined || !allowed.includes(origin)) return {}
  return {
    'access-control-allow-origin': origin,
    'access-control-allow-methods': 'GET, POST',
    'access-control-allow-headers': 'authorization, content-type',
    'access-control-max-age': '600',
    vary: 'origin',
  }
}
