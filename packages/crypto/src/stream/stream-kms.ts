// Streaming AEAD files under a master key held by a KMS (the broker, or an in-memory KMS): a fresh
// DEK per file, wrapped by the master key and stored in the header; unwrapped again to decrypt.
import { isSubrosaError, type RandomBytes, systemRandom, wipe } from '@subrosa/core'
import { CryptoError } from '../errors.ts'
import type { KmsClient } from '../kms.ts'
import type { ByteSink, ByteSource } from '../parquet/byte-io.ts'
import type { StreamHeader } from './header.ts'
import { decryptStream, encryptStream } from './stream.ts'

/** Options of {@link encryptStreamWithKms}. */
export type EncryptStreamWithKmsOptions = {
  readonly kms: KmsClient
  /** The master key that wraps the file's DEK, e.g. `subrosa:acme/people`. */
  readonly masterKeyId: string
  /** Plaintext bytes per chunk, a power of two from 4 KiB to 16 MiB (default 1 MiB). */
  readonly chunkSize?: number
  readonly random?: RandomBytes
  readonly onProgress?: (bytes: number) => void
}

/**
 * Encrypt `source` into the streaming AEAD format under a fresh 256-bit DEK, which `kms` wraps
 * by `masterKeyId` into the header. The DEK is wiped afterwards.
 *
 * @example await encryptStreamWithKms(source, sink, { kms, masterKeyId: 'subrosa:acme/people' })
 * @throws CryptoError `ERR_STREAM_MALFORMED` (bad chunk size, ids too long); whatever `kms`
 * throws (`ERR_CRYPTO_UNKNOWN_MASTER_KEY` for an in-memory KMS, broker refusals).
 */
export async function encryptStreamWithKms(
  source: ByteSource,
  sink: ByteSink,
  options: EncryptStreamWithKmsOptions,
): Promise<{ bytes: number; chunks: number; chunkSize: number; keyId: string }> {
  const random = options.random ?? systemRandom
  const dek = random(32)
  try {
    const wrappedDek = await options.kms.wrapKey(dek, options.masterKeyId)
    const chunkSize = options.chunkSize ?? 1 << 20
    const r = await encryptStream(source, sink, {
      dek,
      keyId: options.masterKeyId,
      wrappedDek,
      chunkSize,
      random,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
    return { ...r, chunkSize, keyId: options.masterKeyId }
  } finally {
    wipe(dek)
  }
}

/** Options of {@link decryptStreamWithKms}. */
export type DecryptStreamWithKmsOptions = {
  readonly kms: KmsClient
  readonly onProgress?: (bytes: number) => void
}

/** KMS answers meaning "this master key does not open this wrapped DEK". */
const NOT_THIS_KEY = new Set(['ERR_CRYPTO_AUTH', 'ERR_CRYPTO_WRAPPED_KEY_MALFORMED'])

/**
 * Decrypt a streaming AEAD file whose DEK `kms` unwraps with the master key its header names.
 * A master key that does not open the wrapped DEK (wrong key, changed header) is
 * `ERR_STREAM_HEADER_AUTH`, as a wrong DEK is. The DEK is wiped afterwards.
 *
 * @example await decryptStreamWithKms(source, sink, { kms })
 * @throws CryptoError what {@link decryptStream} throws (`ERR_STREAM_HEADER_AUTH`,
 * `ERR_STREAM_TRUNCATED`, `ERR_STREAM_REORDERED`, `ERR_STREAM_CHUNK_AUTH`,
 * `ERR_STREAM_MALFORMED`); other refusals of `kms` (`ERR_CRYPTO_UNKNOWN_MASTER_KEY`, a broker's
 * `ERR_KMS_NOT_GRANTED`) as they come.
 */
export async function decryptStreamWithKms(
  source: ByteSource,
  sink: ByteSink,
  options: DecryptStreamWithKmsOptions,
): Promise<{ header: StreamHeader; bytes: number; chunks: number }> {
  let dek: Uint8Array | undefined
  try {
    return await decryptStream(source, sink, {
      dekFor: async (header) => {
        try {
          dek = await options.kms.unwrapKey(header.wrappedDek, header.keyId)
        } catch (cause) {
          if (isSubrosaError(cause) && NOT_THIS_KEY.has(cause.code)) {
            throw new CryptoError(
              'ERR_STREAM_HEADER_AUTH',
              `The master key ${header.keyId} does not unwrap this file's data key: wrong key, or the header was changed`,
              { cause, details: { keyId: header.keyId } },
            )
          }
          throw cause
        }
        return dek
      },
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
  } finally {
    if (dek !== undefined) wipe(dek)
  }
}
