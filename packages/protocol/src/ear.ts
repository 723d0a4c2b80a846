import { ECDH } from 'node:crypto'
import { es256PrivateKey, fromBase64Url, signCompactEs256, toBase64Url } from '@subrosa/core'
import {
  compactVerify,
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWK,
  errors as joseErrors,
} from 'jose'
import { z } from 'zod'
import { ProtocolError } from './errors.ts'
import { uncompressedPoint } from './jwe-node.ts'
import type { TeePublicKey } from './kbs.ts'

/** The EAR profile Subrosa's tokens follow (draft-ietf-rats-ear). */
export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear'

/** Claim binding an attested service's TLS certificate (copied from the runtime data). */
export const TLS_CERT_SHA256_CLAIM = 'subrosa.tls-cert-sha256'

/** EAR trust tiers. */
export type EarStatus = 'none' | 'affirming' | 'warning' | 'contraindicated'

/** What the token says about the workload, in Subrosa's own claim. */
export type WorkloadClaim = {
  readonly namespace: string
  readonly policy: string
  readonly workload: string
  readonly policyHash: string
  readonly policyVersion: number
  /** The policy clause that allowed the workload, e.g. `workloads[0].accept[0]`. */
  readonly clause: string
}

const earSubmodSchema = z.object({
  'ear.status': z.enum(['none', 'affirming', 'warning', 'contraindicated']),
  'ear.trustworthiness-vector': z.record(z.string(), z.number().int()),
  'ear.appraisal-policy-id': z.string(),
  'ear.veraison.annotated-evidence': z.record(z.string(), z.unknown()),
  'ear.veraison.key-attestation': z.object({ akpub: z.string() }),
})

const earClaimsSchema = z.object({
  iss: z.string(),
  iat: z.number().int(),
  exp: z.number().int(),
  jti: z.string(),
  eat_profile: z.literal(EAR_PROFILE),
  eat_nonce: z.string(),
  'ear.verifier-id': z.object({ developer: z.string(), build: z.string() }),
  submods: z.object({ cpu0: earSubmodSchema }),
  'subrosa.workload': z.object({
    namespace: z.string(),
    policy: z.string(),
    workload: z.string(),
    policyHash: z.string(),
    policyVersion: z.number().int(),
    clause: z.string(),
  }),
  'subrosa.tee': z.string(),
  'subrosa.insecure': z.boolean(),
  /** base64url SHA-256 of the DER TLS certificate the attested workload serves with. */
  [TLS_CERT_SHA256_CLAIM]: z
    .string()
    .regex(/^[A-Za-z0-9_-]{43}$/)
    .optional(),
})

/** The claims of an EAR attestation token issued by the broker. */
export type EarClaims = z.infer<typeof earClaimsSchema>

/** Inputs to {@link signEarToken}. */
export type EarInput = {
  readonly issuer: string
  readonly now: Date
  readonly ttlSeconds: number
  readonly jti: string
  readonly nonce: string
  readonly build: string
  readonly status: EarStatus
  readonly trustVector: Readonly<Record<string, number>>
  readonly annotatedEvidence: Readonly<Record<string, unknown>>
  readonly teePublicKey: TeePublicKey
  readonly workload: WorkloadClaim
  readonly tee: string
  readonly insecure: boolean
  /** The runtime data's `tls-cert-sha256`, once the evidence has bound it. */
  readonly tlsCertSha256?: string | undefined
}

/**
 * Issue an EAR token (ES256 JWT, `kid` from the signing JWK).
 *
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` when the TEE key is not a point on P-256.
 */
export async function signEarToken(input: EarInput, signingKey: JWK): Promise<string> {
  if (typeof signingKey.kid !== 'string') throw new TypeError('signing key needs a kid')
  const iat = Math.floor(input.now.getTime() / 1000)
  const claims = {
    eat_profile: EAR_PROFILE,
    eat_nonce: input.nonce,
    'ear.verifier-id': { developer: 'subrosa', build: input.build },
    submods: {
      cpu0: {
        'ear.status': input.status,
        'ear.trustworthiness-vector': input.trustVector,
        'ear.appraisal-policy-id': `${input.workload.namespace}/${input.workload.policy}@${input.workload.policyHash}`,
        'ear.veraison.annotated-evidence': input.annotatedEvidence,
        'ear.veraison.key-attestation': { akpub: spkiOf(input.teePublicKey) },
      },
    },
    'subrosa.workload': input.workload,
    'subrosa.tee': input.tee,
    'subrosa.insecure': input.insecure,
    ...(input.tlsCertSha256 === undefined ? {} : { [TLS_CERT_SHA256_CLAIM]: input.tlsCertSha256 }),
  }
  const payload = {
    ...claims,
    iss: input.issuer,
    iat,
    exp: iat + input.ttlSeconds,
    jti: input.jti,
  }
  const key = es256PrivateKey(signingKey)
  if (key === undefined) throw new TypeError('signing key must be a private EC P-256 JWK')
  // Signed synchronously with node:crypto: jose's WebCrypto signing costs several times the CPU
  // (a thread-pool hop per token), and the broker signs one token per attestation.
  return signCompactEs256({ alg: 'ES256', kid: signingKey.kid, typ: 'JWT' }, payload, key)
}

const jwkSets = new WeakMap<JSONWebKeySet, ReturnType<typeof createLocalJWKSet>>()

/** One jose key set per JWKS object, so that its imported keys are reused across tokens. */
function localJwkSet(jwks: JSONWebKeySet): ReturnType<typeof createLocalJWKSet> {
  let set = jwkSets.get(jwks)
  if (set === undefined) {
    set = createLocalJWKSet(jwks)
    jwkSets.set(jwks, set)
  }
  return set
}

/** Options of {@link verifyEarToken}. */
export type VerifyEarOptions = {
  readonly jwks: JSONWebKeySet
  readonly issuer: string
  readonly now: Date
}

/**
 * Verify an EAR token against the issuer's JWKS at a given time and return its claims. Runs in
 * browsers too (jose, WebCrypto); Node services may use `verifyEarTokenSync`, which makes the
 * same checks with node:crypto.
 *
 * @throws ProtocolError `ERR_TOKEN_INVALID`, `ERR_TOKEN_SIGNATURE`, `ERR_TOKEN_EXPIRED`,
 * `ERR_TOKEN_CLAIMS`.
 */
export async function verifyEarToken(
  token: unknown,
  options: VerifyEarOptions,
): Promise<EarClaims> {
  const compact = earTokenString(token)
  let verified: Awaited<ReturnType<typeof compactVerify>>
  try {
    verified = await compactVerify(compact, localJwkSet(options.jwks), { algorithms: ['ES256'] })
  } catch (cause) {
    throw tokenError(cause, 'Attestation token')
  }
  if (verified.protectedHeader.b64 === false)
    throw new ProtocolError('ERR_TOKEN_INVALID', 'Attestation token has an unencoded payload')
  return earClaimsOf(verified.payload, options)
}

/** The token as a string of bounded size, or `ERR_TOKEN_INVALID`. */
export function earTokenString(token: unknown): string {
  if (typeof token !== 'string' || token.length > 16384)
    throw new ProtocolError('ERR_TOKEN_INVALID', 'Attestation token must be a compact JWT string')
  return token
}

/**
 * The claims of a signature-checked EAR token payload: the JWT checks of RFC 7519 as jose's
 * `jwtVerify` makes them for `{issuer, currentDate, requiredClaims: [iat, exp, jti]}` (with the
 * same codes), then the EAR and Subrosa claims.
 *
 * @throws ProtocolError `ERR_TOKEN_INVALID`, `ERR_TOKEN_EXPIRED`, `ERR_TOKEN_CLAIMS`.
 */
export function earClaimsOf(
  payload: Uint8Array,
  options: { readonly issuer: string; readonly now: Date },
): EarClaims {
  let doc: unknown
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload))
  } catch {
    doc = undefined
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new ProtocolError('ERR_TOKEN_INVALID', 'Attestation token claims are not a JSON object')
  const claims = doc as Record<string, unknown>
  const claimError = (claim: string, expired = claim === 'iat' || claim === 'nbf') =>
    new ProtocolError(
      expired ? 'ERR_TOKEN_EXPIRED' : 'ERR_TOKEN_CLAIMS',
      `Attestation token claim ${claim} is not acceptable`,
    )
  for (const claim of ['iss', 'jti', 'exp', 'iat'])
    if (!Object.hasOwn(claims, claim)) throw claimError(claim)
  if (claims.iss !== options.issuer) throw claimError('iss')
  const now = Math.floor(options.now.getTime() / 1000)
  if (typeof claims.iat !== 'number') throw claimError('iat')
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now))
    throw claimError('nbf')
  if (typeof claims.exp !== 'number') throw claimError('exp')
  if (claims.exp <= now)
    throw new ProtocolError('ERR_TOKEN_EXPIRED', 'Attestation token is expired')
  const parsed = earClaimsSchema.safeParse(claims)
  if (!parsed.success) {
    throw new ProtocolError(
      'ERR_TOKEN_CLAIMS',
      'Attestation token lacks required EAR or Subrosa claims',
    )
  }
  return parsed.data
}

/** DER SubjectPublicKeyInfo of an EC P-256 key, up to the uncompressed point's 0x04. */
const P256_SPKI_PREFIX = Buffer.from(
  '3059301306072a8648ce3d020106082a8648ce3d03010703420004',
  'hex',
)
const P256_COORDINATE = 32

/**
 * The TEE public key an EAR token attests (`ear.veraison.key-attestation.akpub`). The SPKI is
 * read by its fixed P-256 layout; the broker checked the point when it issued the token, and
 * whoever encrypts to it imports it again.
 *
 * @throws ProtocolError `ERR_TOKEN_CLAIMS` when akpub is not an EC P-256 SubjectPublicKeyInfo.
 */
export function teePublicKeyOf(claims: EarClaims): TeePublicKey {
  const der = fromBase64Url(claims.submods.cpu0['ear.veraison.key-attestation'].akpub)
  if (der === undefined) throw new ProtocolError('ERR_TOKEN_CLAIMS', 'Token akpub is not base64url')
  const prefix = P256_SPKI_PREFIX.length
  if (
    der.length !== prefix + 2 * P256_COORDINATE ||
    !P256_SPKI_PREFIX.equals(der.subarray(0, prefix))
  )
    throw new ProtocolError('ERR_TOKEN_CLAIMS', 'Token akpub is not an EC P-256 key')
  return {
    kty: 'EC',
    crv: 'P-256',
    x: toBase64Url(der.subarray(prefix, prefix + P256_COORDINATE)),
    y: toBase64Url(der.subarray(prefix + P256_COORDINATE)),
  }
}

/** The DER SPKI of a TEE key, after checking that it is a point on P-256. */
function spkiOf(jwk: TeePublicKey): string {
  const point = uncompressedPoint(jwk)
  try {
    // Decoding the point checks that it lies on the curve (and is not the point at infinity).
    ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'uncompressed')
  } catch (cause) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'The TEE key is not a P-256 public key', {
      cause,
    })
  }
  return toBase64Url(Buffer.concat([P256_SPKI_PREFIX, point.subarray(1)]))
}

/**
 * A jose verification failure as a stable token code; `what` names the token in the message
 * ("Attestation token", "Service token"). Never includes the token itself.
 */
export function tokenError(cause: unknown, what: string): ProtocolError {
  if (cause instanceof joseErrors.JWTExpired) {
    return new ProtocolError('ERR_TOKEN_EXPIRED', `${what} is expired`, { cause })
  }
  if (cause instanceof joseErrors.JWTClaimValidationFailed) {
    if (cause.claim === 'aud')
      return new ProtocolError('ERR_TOKEN_AUDIENCE', `${what} is for another audience`, { cause })
    const expired = cause.claim === 'nbf' || cause.claim === 'iat'
    return new ProtocolError(
      expired ? 'ERR_TOKEN_EXPIRED' : 'ERR_TOKEN_CLAIMS',
      `${what} claim ${cause.claim} is not acceptable`,
      { cause },
    )
  }
  if (
    cause instanceof joseErrors.JWSSignatureVerificationFailed ||
    cause instanceof joseErrors.JWKSNoMatchingKey
  ) {
    return new ProtocolError(
      'ERR_TOKEN_SIGNATURE',
      `${what} is not signed by a key of the trusted issuer`,
      { cause },
    )
  }
  return new ProtocolError(
    'ERR_TOKEN_INVALID',
    `${what} is malformed or uses an unsupported algorithm`,
    { cause },
  )
}
