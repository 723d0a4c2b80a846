import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose'
import { z } from 'zod'
import { tokenError } from './ear.ts'
import { ProtocolError } from './errors.ts'
import type { TeePublicKey } from './kbs.ts'

/** RFC 8693 grant type of `POST /v1/token/exchange`. */
export const TOKEN_EXCHANGE_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange'
/** RFC 8693 token type of the subject token (an EAR JWT) and of the issued token. */
export const JWT_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:jwt'
/** JOSE `typ` of exchanged tokens (RFC 9068 JWT access tokens), never that of an EAR token. */
export const EXCHANGED_TOKEN_TYP = 'at+jwt'
/** Longest lifetime of an exchanged token, in seconds. */
export const EXCHANGED_TOKEN_MAX_TTL_SECONDS = 300

/**
 * A downstream service name as policies (`calls`) and exchange requests write it: a DNS name,
 * an https URL or a SPIFFE ID; printable, no spaces, at most 255 characters.
 */
export const SERVICE_AUDIENCE = /^[A-Za-z0-9][A-Za-z0-9._~:/@+-]{0,254}$/

/** The body of `POST /v1/token/exchange` (form-encoded or JSON). */
export const tokenExchangeRequestSchema = z.strictObject({
  grant_type: z.string().max(256),
  subject_token: z.string().min(1).max(16384),
  subject_token_type: z.string().max(256),
  audience: z.string().regex(SERVICE_AUDIENCE, 'must be a service name (DNS name, URL, SPIFFE ID)'),
  /** RFC 8693 optional parameters; `resource`, `scope` and `requested_token_type` are accepted
   * only with the values this broker can honour (checked by the broker). */
  requested_token_type: z.string().max(256).optional(),
  resource: z.string().max(2048).optional(),
  scope: z.string().max(1024).optional(),
  actor_token: z.string().max(16384).optional(),
  actor_token_type: z.string().max(256).optional(),
})

/** A parsed token exchange request. */
export type TokenExchangeRequest = z.infer<typeof tokenExchangeRequestSchema>

/** The RFC 8693 answer. */
export type TokenExchangeResponse = {
  readonly access_token: string
  readonly issued_token_type: typeof JWT_TOKEN_TYPE
  readonly token_type: 'Bearer'
  readonly expires_in: number
}

const exchangedClaimsSchema = z.object({
  iss: z.string(),
  sub: z.string(),
  aud: z.string(),
  iat: z.number().int(),
  nbf: z.number().int().optional(),
  exp: z.number().int(),
  jti: z.string().min(16).max(128),
  cnf: z.object({ jkt: z.string() }).optional(),
  'subrosa.workload': z.object({
    namespace: z.string(),
    policy: z.string(),
    workload: z.string(),
    policyHash: z.string(),
    policyVersion: z.number().int(),
  }),
  'subrosa.tee': z.string(),
  'subrosa.insecure': z.boolean(),
})

/** The claims of a token issued by token exchange. */
export type ExchangedTokenClaims = z.infer<typeof exchangedClaimsSchema>

/** Inputs to {@link signExchangedToken}. */
export type ExchangedTokenInput = {
  readonly issuer: string
  readonly audience: string
  readonly now: Date
  readonly ttlSeconds: number
  readonly jti: string
  readonly workload: ExchangedTokenClaims['subrosa.workload']
  readonly tee: string
  readonly insecure: boolean
  /** The caller's attested key; its RFC 7638 thumbprint becomes `cnf.jkt`. */
  readonly confirmationKey?: TeePublicKey | undefined
}

/** `<ns>/<policy>/<workload>`, the `sub` of an exchanged token. */
export function workloadSubject(w: { namespace: string; policy: string; workload: string }) {
  return `${w.namespace}/${w.policy}/${w.workload}`
}

/**
 * Issue an audience-bound token (ES256, `typ: at+jwt`) for a workload: `sub` the workload,
 * `aud` the one downstream service, `cnf.jkt` the caller's attested key.
 */
export async function signExchangedToken(
  input: ExchangedTokenInput,
  signingKey: JWK,
): Promise<string> {
  if (typeof signingKey.kid !== 'string') throw new TypeError('signing key needs a kid')
  if (input.ttlSeconds < 1 || input.ttlSeconds > EXCHANGED_TOKEN_MAX_TTL_SECONDS)
    throw new RangeError(`ttlSeconds must be 1..${EXCHANGED_TOKEN_MAX_TTL_SECONDS}`)
  const iat = Math.floor(input.now.getTime() / 1000)
  const cnf =
    input.confirmationKey === undefined
      ? undefined
      : { jkt: await calculateJwkThumbprint(bareEcKey(input.confirmationKey), 'sha256') }
  return new SignJWT({
    ...(cnf === undefined ? {} : { cnf }),
    'subrosa.workload': input.workload,
    'subrosa.tee': input.tee,
    'subrosa.insecure': input.insecure,
  })
    .setProtectedHeader({ alg: 'ES256', kid: signingKey.kid, typ: EXCHANGED_TOKEN_TYP })
    .setIssuer(input.issuer)
    .setSubject(workloadSubject(input.workload))
    .setAudience(input.audience)
    .setIssuedAt(iat)
    .setNotBefore(iat)
    .setExpirationTime(iat + input.ttlSeconds)
    .setJti(input.jti)
    .sign(signingKey)
}

/** Options of {@link verifyExchangedTokenClaims}. */
export type VerifyExchangedOptions = {
  readonly jwks: JSONWebKeySet
  readonly issuer: string
  /** This service's own name: the only audience it accepts. */
  readonly audience: string
  readonly now: Date
  /** Accepted clock skew in seconds (default 0). */
  readonly clockToleranceSeconds?: number
}

/**
 * Verify an exchanged token's signature, `typ`, issuer, audience and validity window, and
 * return its claims. Replay (`jti` seen before) is the caller's check: see the SDK's
 * `verifyExchangedToken`.
 *
 * @throws ProtocolError `ERR_TOKEN_INVALID`, `ERR_TOKEN_SIGNATURE`, `ERR_TOKEN_EXPIRED`,
 * `ERR_TOKEN_AUDIENCE`, `ERR_TOKEN_CLAIMS`.
 */
export async function verifyExchangedTokenClaims(
  token: unknown,
  options: VerifyExchangedOptions,
): Promise<ExchangedTokenClaims> {
  if (typeof token !== 'string' || token.length > 16384)
    throw new ProtocolError('ERR_TOKEN_INVALID', 'Service token must be a compact JWT string')
  let typ: unknown
  try {
    typ = decodeProtectedHeader(token).typ
  } catch (cause) {
    throw new ProtocolError('ERR_TOKEN_INVALID', 'Service token is not a JWT', { cause })
  }
  if (typ !== EXCHANGED_TOKEN_TYP)
    throw new ProtocolError('ERR_TOKEN_INVALID', `Service token typ must be ${EXCHANGED_TOKEN_TYP}`)
  let payload: unknown
  try {
    ;({ payload } = await jwtVerify(token, createLocalJWKSet(options.jwks), {
      algorithms: ['ES256'],
      issuer: options.issuer,
      audience: options.audience,
      typ: EXCHANGED_TOKEN_TYP,
      currentDate: options.now,
      clockTolerance: options.clockToleranceSeconds ?? 0,
      requiredClaims: ['iat', 'exp', 'jti', 'sub', 'aud'],
    }))
  } catch (cause) {
    throw tokenError(cause, 'Service token')
  }
  const parsed = exchangedClaimsSchema.safeParse(payload)
  if (!parsed.success)
    throw new ProtocolError('ERR_TOKEN_CLAIMS', 'Service token lacks required claims')
  if (parsed.data.exp - parsed.data.iat > EXCHANGED_TOKEN_MAX_TTL_SECONDS)
    throw new ProtocolError('ERR_TOKEN_CLAIMS', 'Service token lives longer than allowed')
  return parsed.data
}

function bareEcKey(key: TeePublicKey): JWK {
  return { kty: key.kty, crv: key.crv, x: key.x, y: key.y }
}
