import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto'
import { fromBase64 } from '@subrosa/core'
import type { JWK, JWTHeaderParameters } from 'jose'
import { AttestError } from '../errors.ts'
import { verifyX5cChain } from './x5c-chain.ts'

/** Where a token issuer's signing keys come from. */
export type IssuerKeys = {
  readonly issuer: string
  readonly jwks?: { readonly keys: readonly JWK[] }
  readonly x5cRoots?: readonly string[]
}

/** Key type each signature algorithm needs. */
const RSA = { kty: 'RSA', node: 'rsa' }
const EC = { kty: 'EC', node: 'ec' }
const OKP = { kty: 'OKP', node: 'ed25519' }
const KEY_TYPES: ReadonlyMap<string, { kty: string; node: string }> = new Map([
  ['RS256', RSA],
  ['RS384', RSA],
  ['RS512', RSA],
  ['PS256', RSA],
  ['PS384', RSA],
  ['PS512', RSA],
  ['ES256', EC],
  ['ES384', EC],
  ['ES512', EC],
  ['EdDSA', OKP],
  ['Ed25519', OKP],
])

/** Asymmetric JWS algorithms; `none` and the HMAC family are never accepted. */
export const ASYMMETRIC_ALGORITHMS: readonly string[] = [...KEY_TYPES.keys()]

const PUBLIC_MEMBERS = ['kty', 'crv', 'n', 'e', 'x', 'y'] as const

/**
 * Find the public key that must have signed a token of `issuer`, from local material only (the
 * token's `jku`/`x5u` are never followed):
 * 1. an `x5c` header, when the issuer pins `x5cRoots`: the chain must reach a root;
 * 2. else the issuer's JWKS key with the token's `kid` (or its only key fit for `alg`): its
 *    `n`/`e` or `x`/`y`; or, when it carries only `x5c` (as Azure Attestation publishes), its
 *    leaf certificate, chained to `x5cRoots` when those are pinned.
 *
 * @throws AttestError `ERR_ATTEST_UNTRUSTED_KEY` when no configured key matches,
 * `ERR_ATTEST_TOKEN` for an unusable header, and what `verifyX5cChain` throws.
 */
export function resolveTokenKey(
  header: JWTHeaderParameters,
  issuer: IssuerKeys,
  now: Date,
): KeyObject {
  const alg = header.alg
  const type = KEY_TYPES.get(alg)
  if (type === undefined) throw tokenError('Token algorithm is not an accepted signature algorithm')
  const roots = issuer.x5cRoots ?? []
  if (header.x5c !== undefined && roots.length > 0) {
    return checkType(verifyX5cChain(header.x5c, roots, now), type.node)
  }
  const keys = issuer.jwks?.keys ?? []
  if (keys.length === 0) {
    throw untrusted(
      roots.length > 0
        ? 'Token carries no x5c and its issuer has no JWKS'
        : 'Token issuer has no keys configured',
    )
  }
  const kid: unknown = header.kid
  if (kid !== undefined && typeof kid !== 'string') throw tokenError('Token kid is not a string')
  const candidates = keys.filter(
    (k) =>
      (kid === undefined || k.kid === kid) &&
      (k.kty === undefined || k.kty === type.kty) &&
      (k.alg === undefined || k.alg === alg) &&
      (k.use === undefined || k.use === 'sig'),
  )
  const [key, ...others] = candidates
  if (key === undefined) throw untrusted('No key of the token issuer matches the token kid and alg')
  if (others.length > 0) {
    throw tokenError('Token names no kid (or a duplicated one) and its issuer has several keys')
  }
  if (key.x5c !== undefined && roots.length > 0) {
    return checkType(verifyX5cChain(key.x5c, roots, now), type.node)
  }
  if (key.n !== undefined || key.x !== undefined) return checkType(importPublicJwk(key), type.node)
  return checkType(leafOf(key.x5c), type.node)
}

function importPublicJwk(key: JWK): KeyObject {
  const publicJwk: Record<string, string> = {}
  for (const member of PUBLIC_MEMBERS) {
    const value = key[member]
    if (typeof value === 'string') publicJwk[member] = value
  }
  try {
    return createPublicKey({ key: publicJwk, format: 'jwk' })
  } catch (cause) {
    throw new AttestError('ERR_ATTEST_UNTRUSTED_KEY', 'A configured issuer key is not usable', {
      cause,
    })
  }
}

/** The leaf certificate's key of a JWKS entry that has only `x5c` (the JWKS itself is pinned). */
function leafOf(x5c: readonly string[] | undefined): KeyObject {
  const der = typeof x5c?.[0] === 'string' ? fromBase64(x5c[0]) : undefined
  try {
    if (der === undefined) throw new TypeError('no x5c')
    return new X509Certificate(der).publicKey
  } catch (cause) {
    throw new AttestError(
      'ERR_ATTEST_UNTRUSTED_KEY',
      'A configured issuer key has neither key members nor a certificate',
      { cause },
    )
  }
}

function checkType(key: KeyObject, nodeType: string): KeyObject {
  if (key.asymmetricKeyType !== nodeType) {
    throw tokenError('Token algorithm does not fit the type of its signing key')
  }
  return key
}

function tokenError(message: string): AttestError {
  return new AttestError('ERR_ATTEST_TOKEN', message)
}

function untrusted(message: string): AttestError {
  return new AttestError('ERR_ATTEST_UNTRUSTED_KEY', message)
}
