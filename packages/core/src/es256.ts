// Compact JWS with ES256 (RFC 7515, RFC 7518 §3.4) over node:crypto, synchronously: the few
// operations Subrosa's hot paths sign and verify with (EAR tokens, sim evidence). Each caller
// checks its own header and claims and maps a failure to its own error code.
import { createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto'

/** The members of an EC JWK these functions read. */
export type Es256Jwk = {
  readonly kty?: string
  readonly crv?: string
  readonly x?: string
  readonly y?: string
  readonly d?: string
}

const BASE64URL = /^[A-Za-z0-9_-]*$/
const privateKeys = new WeakMap<Es256Jwk, KeyObject>()
const publicKeys = new WeakMap<Es256Jwk, KeyObject>()

/**
 * The P-256 private key of `jwk`, imported once per JWK object; undefined when `jwk` is not a
 * private EC P-256 key.
 */
export function es256PrivateKey(jwk: Es256Jwk): KeyObject | undefined {
  return imported(jwk, privateKeys, true)
}

/**
 * The P-256 public key of `jwk` (its `d`, if any, ignored), imported once per JWK object;
 * undefined when `jwk` is not an EC P-256 key on the curve.
 */
export function es256PublicKey(jwk: Es256Jwk): KeyObject | undefined {
  return imported(jwk, publicKeys, false)
}

function imported(
  jwk: Es256Jwk,
  cache: WeakMap<Es256Jwk, KeyObject>,
  isPrivate: boolean,
): KeyObject | undefined {
  let key = cache.get(jwk)
  if (key !== undefined) return key
  const { kty, crv, x, y, d } = jwk
  if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string')
    return undefined
  try {
    if (isPrivate) {
      if (typeof d !== 'string') return undefined
      key = createPrivateKey({ key: { kty, crv, x, y, d }, format: 'jwk' })
    } else key = createPublicKey({ key: { kty, crv, x, y }, format: 'jwk' })
  } catch {
    return undefined
  }
  cache.set(jwk, key)
  return key
}

/** `BASE64URL(JSON(header)).BASE64URL(JSON(payload)).BASE64URL(ES256 signature)`. */
export function signCompactEs256(header: unknown, payload: unknown, key: KeyObject): string {
  const signingInput = `${jsonPart(header)}.${jsonPart(payload)}`
  const signature = sign('sha256', Buffer.from(signingInput), { key, dsaEncoding: 'ieee-p1363' })
  return `${signingInput}.${signature.toString('base64url')}`
}

function jsonPart(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** The three parts of a compact JWS, the header and payload decoded. */
export type CompactJws = {
  readonly header: Uint8Array
  readonly payload: Uint8Array
  readonly signingInput: Uint8Array
  readonly signature: Uint8Array
}

/**
 * The parts of `jws` when it is three base64url parts, else undefined. Nothing is checked beyond
 * that: an empty header fails as JSON, an empty signature in {@link verifiesEs256}.
 */
export function compactJwsParts(jws: string): CompactJws | undefined {
  const parts = jws.split('.')
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) return undefined
  const [header, payload, signature] = parts as [string, string, string]
  return {
    header: Buffer.from(header, 'base64url'),
    payload: Buffer.from(payload, 'base64url'),
    signingInput: Buffer.from(`${header}.${payload}`),
    signature: Buffer.from(signature, 'base64url'),
  }
}

/** Whether `jws` carries a 64-byte ES256 signature by `key` over its signing input. */
export function verifiesEs256(jws: CompactJws, key: KeyObject): boolean {
  return (
    jws.signature.length === 64 &&
    verify('sha256', jws.signingInput, { key, dsaEncoding: 'ieee-p1363' }, jws.signature)
  )
}
