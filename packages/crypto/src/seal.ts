import { type RandomBytes, systemRandom, utf8 } from '@subrosa/core'
import { GCM_OVERHEAD, gcmOpen, gcmSeal, NONCE_LENGTH } from './aead.ts'
import { CryptoError } from './errors.ts'

const VERSION = 0x01
const ROOT_KEY_LENGTH = 32
const AAD_LABEL = 'subrosa-seal-v1\0'

function checkRootKey(rootKey: Uint8Array): void {
  if (rootKey.length !== ROOT_KEY_LENGTH) {
    throw new CryptoError(
      'ERR_CRYPTO_KEY_LENGTH',
      `A sealing root key is ${ROOT_KEY_LENGTH} bytes, not ${rootKey.length}`,
      { details: { length: rootKey.length } },
    )
  }
}

/**
 * Seal a secret under a 32-byte root key, bound to `context` (the name of the record that holds
 * it): `0x01 | nonce(12) | ct | tag(16)`, AES-256-GCM with AAD = UTF-8(`subrosa-seal-v1\0` +
 * context). A sealed value moved to another record does not open.
 *
 * @example const sealed = sealSecret(rootKey, secret, 'secret:acme/taxi/spark-auth', systemRandom)
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` when the root key is not 32 bytes.
 */
export function sealSecret(
  rootKey: Uint8Array,
  plaintext: Uint8Array,
  context: string,
  random: RandomBytes = systemRandom,
): Uint8Array {
  checkRootKey(rootKey)
  const sealed = gcmSeal(rootKey, random(NONCE_LENGTH), plaintext, utf8(AAD_LABEL + context), 1)
  sealed[0] = VERSION
  return sealed
}

/**
 * Open a value sealed by {@link sealSecret} for the same `context`.
 *
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` (root key not 32 bytes), `ERR_CRYPTO_SEALED_MALFORMED`
 * (too short or unknown version), `ERR_CRYPTO_AUTH` (wrong root key, other context, tampered).
 */
export function openSecret(rootKey: Uint8Array, sealed: Uint8Array, context: string): Uint8Array {
  checkRootKey(rootKey)
  if (sealed.length < 1 + GCM_OVERHEAD) {
    throw new CryptoError(
      'ERR_CRYPTO_SEALED_MALFORMED',
      `A sealed secret is at least ${1 + GCM_OVERHEAD} bytes, not ${sealed.length}`,
    )
  }
  if (sealed[0] !== VERSION) {
    throw new CryptoError(
      'ERR_CRYPTO_SEALED_MALFORMED',
      `Unknown sealed-secret version ${sealed[0]}`,
      { details: { version: sealed[0] ?? -1 } },
    )
  }
  const plaintext = gcmOpen(rootKey, sealed.subarray(1), utf8(AAD_LABEL + context))
  if (plaintext === undefined) {
    throw new CryptoError(
      'ERR_CRYPTO_AUTH',
      'Cannot open sealed secret: wrong root key, wrong context, or tampered data',
    )
  }
  return plaintext
}
