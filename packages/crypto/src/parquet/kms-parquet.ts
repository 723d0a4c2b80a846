import { type RandomBytes, systemRandom, wipe } from '@subrosa/core'
import { gcmCipher } from '../aead.ts'
import { CryptoError } from '../errors.ts'
import type { KmsClient } from '../kms.ts'
import type { ByteSink, ByteSource } from './byte-io.ts'
import { decryptParquet, type ParquetDecryptStats } from './decrypt-parquet.ts'
import { encryptParquet, type ParquetEncryptStats } from './encrypt-parquet.ts'
import { type KeyTarget, openParquet } from './footer.ts'
import { createKeyMaterial, type KekCache, unwrapKeyMaterial } from './key-material.ts'

export type EncryptParquetWithKmsOptions = {
  /** e.g. `subrosa:acme/taxi` */
  masterKeyId: string
  kms: KmsClient
  kmsInstanceId: string
  kmsInstanceUrl: string
  /** Length of the fresh footer DEK: 16, 24 or 32 (default). */
  dekBytes?: number
  kekCache?: KekCache
  random?: RandomBytes
  onProgress?: (done: number, total: number) => void
}

/**
 * Encrypt a plaintext Parquet file under a fresh DEK whose PKMT1 key material (double wrapping,
 * internal storage) names `masterKeyId`: what Spark, pyarrow and {@link decryptParquetWithKms}
 * read through a KmsClient. The DEK is wiped afterwards.
 *
 * @example await encryptParquetWithKms(source, sink, { masterKeyId, kms, kmsInstanceId: 'subrosa', kmsInstanceUrl: url })
 * @throws CryptoError as {@link encryptParquet} and {@link createKeyMaterial}; what the KMS throws.
 */
export async function encryptParquetWithKms(
  source: ByteSource,
  sink: ByteSink,
  options: EncryptParquetWithKmsOptions,
): Promise<ParquetEncryptStats> {
  const random = options.random ?? systemRandom
  const dek = random(options.dekBytes ?? 32)
  try {
    gcmCipher(dek, 'data key')
    const footerKeyMetadata = await createKeyMaterial({
      dek,
      masterKeyId: options.masterKeyId,
      kms: options.kms,
      kmsInstanceId: options.kmsInstanceId,
      kmsInstanceUrl: options.kmsInstanceUrl,
      isFooterKey: true,
      random,
      ...(options.kekCache === undefined ? {} : { kekCache: options.kekCache }),
    })
    return await encryptParquet(source, sink, {
      footerKey: dek,
      footerKeyMetadata,
      random,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
  } finally {
    wipe(dek)
  }
}

export type DecryptParquetWithKmsOptions = {
  kms: KmsClient
  aadPrefix?: Uint8Array
  kekCache?: KekCache
  onProgress?: (done: number, total: number) => void
}

function keyRetrieverFor(
  kms: KmsClient,
  kekCache: KekCache | undefined,
  got: (dek: Uint8Array, id: string, target: KeyTarget) => void,
) {
  return async (keyMetadata: Uint8Array | undefined, target: KeyTarget): Promise<Uint8Array> => {
    if (keyMetadata === undefined) {
      const what = target.kind === 'footer' ? 'footer' : `column ${target.path.join('.')}`
      throw new CryptoError('ERR_PARQUET_KEY_MATERIAL', `The ${what} has no key_metadata`)
    }
    const { dek, masterKeyId } = await unwrapKeyMaterial(keyMetadata, kms, kekCache)
    got(dek, masterKeyId, target)
    return dek
  }
}

/**
 * Decrypt a PME file whose footer key_metadata is PKMT1 key material (parquet-java, pyarrow,
 * {@link encryptParquetWithKms}), unwrapping the DEK through `kms`. The DEK is wiped afterwards.
 *
 * @example await decryptParquetWithKms(source, sink, { kms })
 * @throws CryptoError as {@link decryptParquet} and {@link unwrapKeyMaterial}; what the KMS throws.
 */
export async function decryptParquetWithKms(
  source: ByteSource,
  sink: ByteSink,
  options: DecryptParquetWithKmsOptions,
): Promise<ParquetDecryptStats> {
  const keys: Uint8Array[] = []
  try {
    return await decryptParquet(source, sink, {
      keyRetriever: keyRetrieverFor(options.kms, options.kekCache, (dek) => {
        keys.push(dek)
      }),
      ...(options.aadPrefix === undefined ? {} : { aadPrefix: options.aadPrefix }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
  } finally {
    for (const key of keys) wipe(key)
  }
}

/**
 * Unwrap the footer DEK of a PME file through `kms` and check it authenticates the footer; the
 * engine then hands the DEK to DuckDB (`read_parquet(path, encryption_config =
 * {footer_key_value: $1::BLOB})`). The caller owns the DEK and wipes it.
 *
 * @example const { dek, masterKeyId } = await unwrapFooterKey(source, kms)
 * @throws CryptoError `ERR_PARQUET_NOT_ENCRYPTED`, `ERR_PARQUET_UNSUPPORTED`,
 * `ERR_PARQUET_KEY_MATERIAL`, `ERR_PARQUET_FOOTER_AUTH`, `ERR_PARQUET_AAD_PREFIX`,
 * `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`; what the KMS throws.
 */
export async function unwrapFooterKey(
  source: ByteSource,
  kms: KmsClient,
  options: { kekCache?: KekCache; aadPrefix?: Uint8Array } = {},
): Promise<{ dek: Uint8Array; masterKeyId: string }> {
  let result: { dek: Uint8Array; masterKeyId: string } | undefined
  try {
    await openParquet(
      source,
      keyRetrieverFor(kms, options.kekCache, (dek, masterKeyId) => {
        result = { dek, masterKeyId }
      }),
      options.aadPrefix,
    )
  } catch (error) {
    if (result !== undefined) wipe(result.dek)
    throw error
  }
  if (result === undefined) throw new CryptoError('ERR_PARQUET_KEY_MATERIAL', 'No footer key')
  return result
}
