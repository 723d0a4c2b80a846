import { createCipheriv, createDecipheriv } from 'node:crypto'
import { concatBytes } from '@subrosa/core'
import { CryptoError } from './errors.ts'

/** AES-GCM nonce length used everywhere in this package (NIST SP 800-38D RBG construction). */
export const NONCE_LENGTH = 12
/** AES-GCM tag length used everywhere in this package. */
export const TAG_LENGTH = 16
/** nonce + tag: what AES-GCM adds to a plaintext. */
export const GCM_OVERHEAD = NONCE_LENGTH + TAG_LENGTH

type GcmCipher = 'aes-128-gcm' | 'aes-192-gcm' | 'aes-256-gcm'

/**
 * The OpenSSL cipher name for an AES key, by length.
 *
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` unless the key is 16, 24 or 32 bytes.
 */
export function gcmCipher(key: Uint8Array, what = 'key'): GcmCipher {
  switch (key.length) {
    case 16:
      return 'aes-128-gcm'
    case 24:
      return 'aes-192-gcm'
    case 32:
      return 'aes-256-gcm'
    default:
      throw new CryptoError(
        'ERR_CRYPTO_KEY_LENGTH',
        `The ${what} must be 16, 24 or 32 bytes for AES-GCM, not ${key.length}`,
        { details: { length: key.length } },
      )
  }
}

/**
 * AES-GCM encrypt into a new buffer laid out as `headroom bytes (zero) | nonce | ct | tag`, so
 * callers can put a length or version prefix in front without another copy.
 */
export function gcmSeal(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  headroom = 0,
): Uint8Array {
  return concatBytes(...gcmSealParts(key, nonce, plaintext, aad, headroom))
}

/**
 * AES-GCM decrypt `nonce | ct | tag`; `undefined` when authentication fails (callers map that to
 * their own code). The caller has checked that `sealed` is at least {@link GCM_OVERHEAD} long.
 *
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` for a key that is not an AES key.
 */
export function gcmOpen(
  key: Uint8Array,
  sealed: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  const algorithm = gcmCipher(key)
  if (sealed.length < GCM_OVERHEAD) return undefined
  const nonce = sealed.subarray(0, NONCE_LENGTH)
  const tag = sealed.subarray(sealed.length - TAG_LENGTH)
  const decipher = createDecipheriv(algorithm, key, nonce, { authTagLength: TAG_LENGTH })
  decipher.setAAD(aad)
  decipher.setAuthTag(tag)
  const body = decipher.update(sealed.subarray(NONCE_LENGTH, sealed.length - TAG_LENGTH))
  let tail: Uint8Array
  try {
    tail = decipher.final()
  } catch {
    body.fill(0)
    return undefined
  }
  // GCM is a stream mode: final() yields nothing more, so the body is the plaintext as is.
  if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length)
  const out = new Uint8Array(body.length + tail.length)
  out.set(body, 0)
  out.set(tail, body.length)
  body.fill(0)
  return out
}

/**
 * AES-GCM encrypt into parts `[prefix | nonce, ciphertext, tag]` written one after the other,
 * without copying the ciphertext: `prefix` bytes of headroom (zero) come first.
 */
export function gcmSealParts(
  key: Uint8Array,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  prefix = 0,
): Uint8Array[] {
  const algorithm = gcmCipher(key)
  if (nonce.length !== NONCE_LENGTH) {
    throw new CryptoError('ERR_CRYPTO_KEY_LENGTH', `A GCM nonce must be ${NONCE_LENGTH} bytes`)
  }
  const cipher = createCipheriv(algorithm, key, nonce, { authTagLength: TAG_LENGTH })
  cipher.setAAD(aad)
  const head = new Uint8Array(prefix + NONCE_LENGTH)
  head.set(nonce, prefix)
  const body = cipher.update(plaintext)
  const tail = cipher.final()
  const parts: Uint8Array[] = [head, body]
  if (tail.length > 0) parts.push(tail)
  parts.push(cipher.getAuthTag())
  return parts
}

type CtrCipher = 'aes-128-ctr' | 'aes-192-ctr' | 'aes-256-ctr'

/**
 * AES-CTR as Parquet's AES_GCM_CTR_V1 uses it for pages: the 16-byte IV is the 12-byte nonce
 * followed by the 32-bit big-endian counter 1. Encryption and decryption are the same operation.
 * No integrity: callers authenticate by other means or accept that pages can be altered.
 *
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` for a key that is not an AES key or a bad nonce.
 */
export function ctrCrypt(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Uint8Array {
  const algorithm = gcmCipher(key).replace('gcm', 'ctr') as CtrCipher
  if (nonce.length !== NONCE_LENGTH) {
    throw new CryptoError('ERR_CRYPTO_KEY_LENGTH', `A CTR nonce must be ${NONCE_LENGTH} bytes`)
  }
  const iv = new Uint8Array(16)
  iv.set(nonce)
  iv[15] = 1
  const cipher = createCipheriv(algorithm, key, iv)
  const body = cipher.update(data)
  const tail = cipher.final()
  if (tail.length === 0) return new Uint8Array(body.buffer, body.byteOffset, body.length)
  const out = new Uint8Array(body.length + tail.length)
  out.set(body, 0)
  out.set(tail, body.length)
  return out
}
