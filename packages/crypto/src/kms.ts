import { type RandomBytes, systemRandom } from '@subrosa/core'
import { gcmCipher } from './aead.ts'
import { CryptoError } from './errors.ts'
import { localUnwrap, localWrap } from './wrap.ts'

/**
 * The key-management contract of parquet-java and Arrow key tools (`KmsClient`): wrap a key
 * under a master key the KMS holds, and unwrap it again. Implementations: the broker, the SDK's
 * broker clients, {@link createInMemoryKms} for tests and local use.
 */
export interface KmsClient {
  wrapKey(key: Uint8Array, masterKeyId: string): Promise<string>
  unwrapKey(wrapped: string, masterKeyId: string): Promise<Uint8Array>
}

/**
 * A KMS over master keys held in memory, wrapping with {@link localWrap} (what parquet-java's
 * `InMemoryKMS` and the broker do).
 *
 * @example const kms = createInMemoryKms({ 'subrosa:demo/taxi': masterKey })
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` at creation for a master key that is not an AES key;
 * its methods throw `ERR_CRYPTO_UNKNOWN_MASTER_KEY` for an id it does not hold, and what
 * {@link localUnwrap} throws.
 */
export function createInMemoryKms(
  masterKeys: Readonly<Record<string, Uint8Array>>,
  random: RandomBytes = systemRandom,
): KmsClient {
  const keys = new Map<string, Uint8Array>()
  for (const [id, key] of Object.entries(masterKeys)) {
    gcmCipher(key, 'master key')
    keys.set(id, key)
  }
  const lookup = (masterKeyId: string): Uint8Array => {
    const key = keys.get(masterKeyId)
    if (key === undefined) {
      throw new CryptoError(
        'ERR_CRYPTO_UNKNOWN_MASTER_KEY',
        `No master key with id ${JSON.stringify(masterKeyId)}`,
        { details: { masterKeyId } },
      )
    }
    return key
  }
  return {
    wrapKey: async (key, masterKeyId) => localWrap(lookup(masterKeyId), key, masterKeyId, random),
    unwrapKey: async (wrapped, masterKeyId) =>
      localUnwrap(lookup(masterKeyId), wrapped, masterKeyId),
  }
}
