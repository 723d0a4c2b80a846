// ECDSA P-256 with raw r ‖ s signatures and raw X ‖ Y keys, as DCAP carries them.
import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import { toBase64Url } from '@subrosa/core'

const COORDINATE = 32
const SIGNATURE = 64

/** The P-256 public key of a raw 64-byte X ‖ Y point, or undefined when it is not on the curve. */
export function p256PublicKey(raw: Uint8Array): KeyObject | undefined {
  if (raw.length !== 2 * COORDINATE) return undefined
  try {
    return createPublicKey({
      key: {
        kty: 'EC',
        crv: 'P-256',
        x: toBase64Url(raw.subarray(0, COORDINATE)),
        y: toBase64Url(raw.subarray(COORDINATE)),
      },
      format: 'jwk',
    })
  } catch {
    return undefined
  }
}

/** True when the raw r ‖ s `signature` over `data` (SHA-256) verifies with `key`. */
export function verifyP256(data: Uint8Array, signature: Uint8Array, key: KeyObject): boolean {
  if (signature.length !== SIGNATURE) return false
  try {
    return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature)
  } catch {
    return false
  }
}
