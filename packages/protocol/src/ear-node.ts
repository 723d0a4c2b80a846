// Node-only: EAR token verification with synchronous node:crypto calls. The broker verifies a
// token on every resource, KMS and injection call; jose's WebCrypto path costs several times the
// CPU (a thread-pool hop per call). The claim checks are the same function `verifyEarToken` uses.
import { compactJwsParts, es256PublicKey, verifiesEs256 } from '@subrosa/core'
import { type EarClaims, earClaimsOf, earTokenString, type VerifyEarOptions } from './ear.ts'
import { ProtocolError } from './errors.ts'

/**
 * {@link verifyEarToken} with node:crypto: the same checks and codes, synchronously. The JWS
 * header must be `alg: ES256` (no `crit`); the key is chosen from the JWKS as jose's local key
 * set chooses it (by `kid` when the header has one, EC P-256, `alg` ES256 and `use` sig where
 * given), trying each when several match.
 *
 * @example
 * const claims = verifyEarTokenSync(token, { jwks, issuer, now: new Date() })
 * @throws ProtocolError `ERR_TOKEN_INVALID`, `ERR_TOKEN_SIGNATURE`, `ERR_TOKEN_EXPIRED`,
 * `ERR_TOKEN_CLAIMS`.
 */
export function verifyEarTokenSync(token: unknown, options: VerifyEarOptions): EarClaims {
  const jws = compactJwsParts(earTokenString(token))
  if (jws === undefined) throw invalid('is not a compact JWS')
  const header = jsonObject(jws.header)
  if (header === undefined) throw invalid('has no JSON header')
  if (header.alg !== 'ES256' || header.crit !== undefined || header.b64 !== undefined)
    throw invalid('uses an unsupported algorithm or header parameter')
  const kid = header.kid
  const candidates = options.jwks.keys.filter(
    (k) =>
      k.kty === 'EC' &&
      k.crv === 'P-256' &&
      (kid === undefined || k.kid === kid) &&
      (k.alg === undefined || k.alg === 'ES256') &&
      (k.use === undefined || k.use === 'sig') &&
      (k.key_ops === undefined || k.key_ops.includes('verify')),
  )
  const valid = candidates.some((jwk) => {
    const key = es256PublicKey(jwk)
    return key !== undefined && verifiesEs256(jws, key)
  })
  if (!valid)
    throw new ProtocolError(
      'ERR_TOKEN_SIGNATURE',
      'Attestation token is not signed by a key of the trusted issuer',
    )
  return earClaimsOf(jws.payload, options)
}

function invalid(what: string): ProtocolError {
  return new ProtocolError('ERR_TOKEN_INVALID', `Attestation token ${what}`)
}

function jsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
