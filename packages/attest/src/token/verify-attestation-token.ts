import {
  decodeJwt,
  decodeProtectedHeader,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose'
import type { Claims, ClaimsSource } from '../claims.ts'
import { AttestError } from '../errors.ts'
import { isRecord } from './claim-reader.ts'
import { claimsFromEar, isEarPayload } from './ear-claims.ts'
import { claimsFromMaa } from './maa-claims.ts'
import { ASYMMETRIC_ALGORITHMS, resolveTokenKey } from './resolve-key.ts'

/** The token formats Subrosa maps to claims. `generic` accepts either, by content. */
export type TokenKind = 'maa' | 'ear' | 'generic'

/** An attestation-token issuer the relying party trusts, with its keys pinned locally. */
export type TrustedIssuer = {
  /** The exact `iss` of its tokens. */
  readonly issuer: string
  /** Its JWKS (keys by `kid`; for Azure Attestation, keys that carry only `x5c`). */
  readonly jwks?: { readonly keys: readonly JWK[] }
  /** PEM roots: a token's `x5c` chain, or a JWKS key's `x5c`, must chain to one of them. */
  readonly x5cRoots?: readonly string[]
  readonly kind: TokenKind
  /** Accepted `alg`s: default RS256 (maa), ES256 (ear), RS256/PS256/ES256/ES384 (generic). */
  readonly algorithms?: readonly string[]
}

/** Options of {@link verifyAttestationToken}. */
export type VerifyTokenOptions = {
  readonly issuers: readonly TrustedIssuer[]
  readonly now: Date
  /** Required `aud` when set; a token's `aud` is not checked otherwise. */
  readonly audience?: string
  /** Slack for `exp`, `nbf` and `iat`, in seconds (default 0). */
  readonly clockToleranceSeconds?: number
}

/** A verified token: normalized claims and where they came from. */
export type TokenVerdict = {
  readonly claims: Claims
  readonly issuer: string
  readonly kind: TokenKind
  readonly expiresAt: Date
  readonly tokenId?: string
}

/** Longest token accepted, in characters (Azure CVM tokens run to ~10 KB). */
export const MAX_TOKEN_LENGTH = 65536

const DEFAULT_ALGORITHMS: Readonly<Record<TokenKind, readonly string[]>> = {
  maa: ['RS256'],
  ear: ['ES256'],
  generic: ['RS256', 'PS256', 'ES256', 'ES384'],
}

/**
 * Verify an attestation token (passport mode) and map its claims to Subrosa's normalized
 * claims, with `source: {kind: 'token', issuer, raw}` so policies can still name raw claims.
 * The issuer is chosen by the token's exact `iss`; its key comes only from local material (see
 * `resolveTokenKey`); `exp` is required, and `exp`, `nbf`, `iat` are checked at `now`.
 *
 * @example
 * const { claims } = await verifyAttestationToken(token, {
 *   issuers: [{ issuer: 'https://x.weu.attest.azure.net', kind: 'maa', jwks }],
 *   now: new Date(),
 * })
 *
 * @throws AttestError `ERR_ATTEST_TOKEN` (malformed, unsupported `alg`, wrong audience,
 * missing or ill-typed claims), `ERR_ATTEST_UNTRUSTED_KEY` (unknown issuer or key),
 * `ERR_ATTEST_SIGNATURE`, `ERR_ATTEST_EXPIRED` (token or certificate outside its validity),
 * `ERR_ATTEST_CHAIN` (x5c not chaining to a pinned root), `ERR_ATTEST_UNSUPPORTED_TEE` (an MAA
 * attestation type without mapping). Messages never contain the token.
 */
export async function verifyAttestationToken(
  token: unknown,
  options: VerifyTokenOptions,
): Promise<TokenVerdict> {
  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw tokenError(`Attestation token must be a compact JWT of at most ${MAX_TOKEN_LENGTH} chars`)
  }
  const { header, unverified } = decode(token)
  const iss = unverified.iss
  if (typeof iss !== 'string') throw tokenError('Attestation token has no iss claim')
  const issuer = options.issuers.find((i) => i.issuer === iss)
  if (issuer === undefined) {
    throw new AttestError('ERR_ATTEST_UNTRUSTED_KEY', 'Attestation token issuer is not trusted')
  }
  const accepted = (issuer.algorithms ?? DEFAULT_ALGORITHMS[issuer.kind]).filter((a) =>
    ASYMMETRIC_ALGORITHMS.includes(a),
  )
  if (!accepted.includes(header.alg)) {
    throw tokenError('Attestation token algorithm is not accepted for its issuer')
  }
  const key = resolveTokenKey(header, issuer, options.now)
  const tolerance = options.clockToleranceSeconds ?? 0
  let payload: JWTPayload
  try {
    ;({ payload } = await jwtVerify(token, key, {
      algorithms: [header.alg],
      issuer: issuer.issuer,
      currentDate: options.now,
      clockTolerance: tolerance,
      requiredClaims: ['exp'],
      ...(options.audience === undefined ? {} : { audience: options.audience }),
    }))
  } catch (cause) {
    throw fromJoseError(cause)
  }
  const nowSeconds = options.now.getTime() / 1000
  if (typeof payload.iat === 'number' && payload.iat > nowSeconds + tolerance) {
    throw new AttestError('ERR_ATTEST_EXPIRED', 'Attestation token is issued in the future')
  }
  const source: ClaimsSource = { kind: 'token', issuer: issuer.issuer, raw: payload }
  const claims = mapClaims(issuer.kind, payload, source)
  return {
    claims,
    issuer: issuer.issuer,
    kind: issuer.kind,
    expiresAt: new Date((payload.exp as number) * 1000),
    ...(typeof payload.jti === 'string' ? { tokenId: payload.jti } : {}),
  }
}

/**
 * Map verified token claims by issuer kind (`generic`: EAR when `eat_profile` says so, else
 * MAA when `x-ms-attestation-type` is present).
 *
 * @throws AttestError `ERR_ATTEST_TOKEN`, `ERR_ATTEST_UNSUPPORTED_TEE`.
 */
export function mapClaims(kind: TokenKind, payload: unknown, source: ClaimsSource): Claims {
  if (kind === 'maa') return claimsFromMaa(payload, source)
  if (kind === 'ear') return claimsFromEar(payload, source)
  if (isEarPayload(payload)) return claimsFromEar(payload, source)
  if (isRecord(payload) && payload['x-ms-attestation-type'] !== undefined) {
    return claimsFromMaa(payload, source)
  }
  throw tokenError('Attestation token carries neither EAR nor Azure Attestation claims')
}

function decode(token: string): { header: JWTHeaderParameters; unverified: JWTPayload } {
  try {
    const header = decodeProtectedHeader(token)
    if (typeof header.alg !== 'string') throw new TypeError('no alg')
    return { header: header as JWTHeaderParameters, unverified: decodeJwt(token) }
  } catch {
    // No cause: JSON parse errors quote the decoded token.
    throw tokenError('Attestation token is not a well-formed JWS JWT')
  }
}

function fromJoseError(cause: unknown): AttestError {
  if (cause instanceof AttestError) return cause
  if (cause instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new AttestError('ERR_ATTEST_SIGNATURE', 'Attestation token signature does not verify', {
      cause,
    })
  }
  if (cause instanceof joseErrors.JWTExpired) {
    return new AttestError('ERR_ATTEST_EXPIRED', 'Attestation token is expired', { cause })
  }
  if (cause instanceof joseErrors.JWTClaimValidationFailed) {
    if (cause.claim === 'nbf' && cause.reason === 'check_failed') {
      return new AttestError('ERR_ATTEST_EXPIRED', 'Attestation token is not yet valid', { cause })
    }
    return new AttestError(
      'ERR_ATTEST_TOKEN',
      `Attestation token claim ${cause.claim} is not acceptable (${cause.reason})`,
      { cause },
    )
  }
  return new AttestError('ERR_ATTEST_TOKEN', 'Attestation token is malformed or unsupported', {
    cause,
  })
}

function tokenError(message: string): AttestError {
  return new AttestError('ERR_ATTEST_TOKEN', message)
}
