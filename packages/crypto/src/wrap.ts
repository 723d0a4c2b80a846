import { fromBase64, type RandomBytes, systemRandom, toBase64, utf8 } from '@subrosa/core'
import { GCM_OVERHEAD, gcmCipher, gcmOpen, gcmSeal, NONCE_LENGTH } from './aead.ts'
import { CryptoError } from './errors.ts'

/**
 * Wrap `key` under `kek` with AES-GCM: returns `nonce(12) | ciphertext | tag(16)`. The AAD binds
 * the wrapped key to its purpose (a key id, a record name).
 *
 * @example const wrapped = wrapKey(kek, dek, utf8('dataset-7'), systemRandom)
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` when `kek` is not a 16/24/32-byte AES key.
 */
export function wrapKey(
  kek: Uint8Array,
  key: Uint8Array,
  aad: Uint8Array,
  random: RandomBytes = systemRandom,
): Uint8Array {
  gcmCipher(kek, 'key-encryption key')
  return gcmSeal(kek, random(NONCE_LENGTH), key, aad)
}

/**
 * Unwrap the output of {@link wrapKey}.
 *
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` (kek not an AES key),
 * `ERR_CRYPTO_WRAPPED_KEY_MALFORMED` (shorter than nonce + tag), `ERR_CRYPTO_AUTH` (wrong kek,
 * wrong AAD or tampered bytes).
 */
export function unwrapKey(kek: Uint8Array, wrapped: Uint8Array, aad: Uint8Array): Uint8Array {
  gcmCipher(kek, 'key-encryption key')
  if (wrapped.length < GCM_OVERHEAD) {
    throw new CryptoError(
      'ERR_CRYPTO_WRAPPED_KEY_MALFORMED',
      `A wrapped key is at least ${GCM_OVERHEAD} bytes (nonce and tag), not ${wrapped.length}`,
    )
  }
  const key = gcmOpen(kek, wrapped, aad)
  if (key === undefined) {
    throw new CryptoError(
      'ERR_CRYPTO_AUTH',
      'Cannot unwrap key: authentication failed (wrong key-encryption key or tampered data)',
    )
  }
  return key
}

/**
 * Parquet key tools' "local wrap" (parquet-java `KeyToolkit.encryptKeyLocally`, as used by
 * `LocalWrapKmsClient` and `InMemoryKMS`): `base64(nonce | ct | tag)` of AES-GCM under the master
 * key with AAD = UTF-8 of the master key id.
 *
 * @example const wrapped = localWrap(masterKey, kek, 'subrosa:acme/taxi', systemRandom)
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` when the master key is not an AES key.
 */
export function localWrap(
  masterKey: Uint8Array,
  key: Uint8Array,
  masterKeyId: string,
  random: RandomBytes = systemRandom,
): string {
  gcmCipher(masterKey, 'master key')
  return toBase64(gcmSeal(masterKey, random(NONCE_LENGTH), key, utf8(masterKeyId)))
}

/**
 * Inverse of {@link localWrap}.
 *
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH`, `ERR_CRYPTO_WRAPPED_KEY_MALFORMED` (not base64 or
 * too short), `ERR_CRYPTO_AUTH` (wrong master key, wrong master key id, or tampered).
 */
export function localUnwrap(
  masterKey: Uint8Array,
  wrapped: string,
  masterKeyId: string,
): Uint8Array {
  const bytes = fromBase64(wrapped)
  if (bytes === undefined) {
    throw new CryptoError('ERR_CRYPTO_WRAPPED_KEY_MALFORMED', 'A locally wrapped key is not base64')
  }
  return unwrapKey(masterKey, bytes, utf8(masterKeyId))
}
