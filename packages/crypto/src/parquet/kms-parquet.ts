import { fromUtf8, type RandomBytes, systemRandom, wipe } from '@subrosa/core'
import { gcmCipher } from '../aead.ts'
import { CryptoError } from '../errors.ts'
import type { KmsClient } from '../kms.ts'
import type { ByteSink, ByteSource } from './byte-io.ts'
import { decryptParquet, type ParquetDecryptStats } from './decrypt-parquet.ts'
import {
  encryptParquet,
  type ParquetEncryptOptions,
  type ParquetEncryptStats,
} from './encrypt-parquet.ts'
import type { ColumnKey } from './encrypted-side.ts'
import { type KeyTarget, openParquet } from './footer.ts'
import {
  createKeyMaterial,
  type KekCache,
  type KeyMaterialStore,
  keyMaterialReference,
  unwrapKeyMaterial,
} from './key-material.ts'

export type EncryptParquetWithKmsOptions = {
  /** Master key of the footer (and of every column without its own), e.g. `subrosa:acme/taxi`. */
  masterKeyId: string
  /** Column keys as parquet-java's `parquet.encryption.column.keys`: master key id → columns. */
  columnMasterKeys?: Readonly<Record<string, readonly string[]>>
  /** With column keys, the other columns: `plaintext` (default) or `footer-key`. */
  otherColumns?: 'footer-key' | 'plaintext'
  kms: KmsClient
  kmsInstanceId: string
  kmsInstanceUrl: string
  /** Length of each fresh DEK: 16, 24 or 32 (default). */
  dekBytes?: number
  /** Default true (a KEK per master key wraps the DEKs; one KMS call per master key). */
  doubleWrapping?: boolean
  /**
   * Default true: key material in the file. false: the file only references it and the result's
   * `keyMaterial` is the sidecar to store as `_KEY_MATERIAL_FOR_<file>.json` (rotatable).
   */
  internalStorage?: boolean
  kekCache?: KekCache
  random?: RandomBytes
} & Pick<
  ParquetEncryptOptions,
  'algorithm' | 'plaintextFooter' | 'aadPrefix' | 'storeAadPrefix' | 'bloomFilters' | 'onProgress'
>

/**
 * Encrypt a plaintext Parquet file as parquet-java's PropertiesDrivenCryptoFactory and Arrow's
 * CryptoFactory do: fresh DEKs for the footer and each keyed column, wrapped into PKMT1 key
 * material under the master keys through `kms`, so that Spark, pyarrow and
 * {@link decryptParquetWithKms} read the file through a KmsClient. DEKs are wiped afterwards.
 *
 * @example await encryptParquetWithKms(source, sink, { masterKeyId, kms, kmsInstanceId: 'subrosa', kmsInstanceUrl: url })
 * @throws CryptoError as {@link encryptParquet} and {@link createKeyMaterial} (`ERR_PARQUET_COLUMN`
 * for a column named twice); what the KMS throws.
 */
export async function encryptParquetWithKms(
  source: ByteSource,
  sink: ByteSink,
  options: EncryptParquetWithKmsOptions,
): Promise<ParquetEncryptStats & { keyMaterial?: KeyMaterialStore }> {
  const random = options.random ?? systemRandom
  const internal = options.internalStorage ?? true
  const store = new Map<string, string>()
  const deks: Uint8Array[] = []
  const material = async (masterKeyId: string, isFooterKey: boolean, ref: string) => {
    const dek = random(options.dekBytes ?? 32)
    deks.push(dek)
    gcmCipher(dek, 'data key')
    const bytes = await createKeyMaterial({
      dek,
      masterKeyId,
      kms: options.kms,
      isFooterKey,
      random,
      internalStorage: internal,
      ...(options.doubleWrapping === undefined ? {} : { doubleWrapping: options.doubleWrapping }),
      ...(isFooterKey
        ? { kmsInstanceId: options.kmsInstanceId, kmsInstanceUrl: options.kmsInstanceUrl }
        : {}),
      ...(options.kekCache === undefined ? {} : { kekCache: options.kekCache }),
    })
    if (internal) return { key: dek, keyMetadata: bytes }
    store.set(ref, fromUtf8(bytes))
    return { key: dek, keyMetadata: keyMaterialReference(ref) }
  }
  try {
    const footer = await material(options.masterKeyId, true, 'footerKey')
    const columnKeys: Record<string, ColumnKey> = {}
    let n = 0
    for (const [masterKeyId, columns] of Object.entries(options.columnMasterKeys ?? {})) {
      for (const column of columns) {
        if (column in columnKeys) {
          throw new CryptoError('ERR_PARQUET_COLUMN', `Column ${column} is given two master keys`, {
            details: { column },
          })
        }
        columnKeys[column] = await material(masterKeyId, false, `columnKey${n++}`)
      }
    }
    const stats = await encryptParquet(source, sink, {
      footerKey: footer.key,
      footerKeyMetadata: footer.keyMetadata,
      columnKeys,
      random,
      ...(options.otherColumns === undefined ? {} : { otherColumns: options.otherColumns }),
      ...(options.algorithm === undefined ? {} : { algorithm: options.algorithm }),
      ...(options.plaintextFooter === undefined
        ? {}
        : { plaintextFooter: options.plaintextFooter }),
      ...(options.aadPrefix === undefined ? {} : { aadPrefix: options.aadPrefix }),
      ...(options.storeAadPrefix === undefined ? {} : { storeAadPrefix: options.storeAadPrefix }),
      ...(options.bloomFilters === undefined ? {} : { bloomFilters: options.bloomFilters }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
    return internal ? stats : { ...stats, keyMaterial: store }
  } finally {
    for (const dek of deks) wipe(dek)
  }
}

export type DecryptParquetWithKmsOptions = {
  kms: KmsClient
  aadPrefix?: Uint8Array
  kekCache?: KekCache
  /** The sidecar of a file written with external key material. */
  keyMaterial?: KeyMaterialStore
  /** Columns whose master key the KMS refuses or lacks: see {@link ParquetDecryptOptions}. */
  unreadableColumns?: 'error' | 'drop'
  /** Which columns to decrypt: see {@link ParquetDecryptOptions}. */
  columns?: (path: readonly string[]) => boolean
  onProgress?: (done: number, total: number) => void
}

/**
 * Error codes a KMS answers when the caller may not use a master key (the in-memory KMS, the
 * broker): with `unreadableColumns: 'drop'` such a column is left out instead of failing.
 */
export const KEY_ACCESS_DENIED_CODES: ReadonlySet<string> = new Set([
  'ERR_CRYPTO_UNKNOWN_MASTER_KEY',
  'ERR_KMS_NOT_GRANTED',
])

function denied(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && KEY_ACCESS_DENIED_CODES.has(code)
}

function keyRetrieverFor(
  kms: KmsClient,
  kekCache: KekCache | undefined,
  got: (dek: Uint8Array, id: string, target: KeyTarget) => void,
  store?: KeyMaterialStore,
  dropDenied = false,
) {
  return async (
    keyMetadata: Uint8Array | undefined,
    target: KeyTarget,
  ): Promise<Uint8Array | undefined> => {
    if (keyMetadata === undefined) {
      const what = target.kind === 'footer' ? 'footer' : `column ${target.path.join('.')}`
      throw new CryptoError('ERR_PARQUET_KEY_MATERIAL', `The ${what} has no key_metadata`)
    }
    let unwrapped: { dek: Uint8Array; masterKeyId: string }
    try {
      unwrapped = await unwrapKeyMaterial(keyMetadata, kms, kekCache, store)
    } catch (error) {
      if (dropDenied && target.kind === 'column' && denied(error)) return undefined
      throw error
    }
    got(unwrapped.dek, unwrapped.masterKeyId, target)
    return unwrapped.dek
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
      keyRetriever: keyRetrieverFor(
        options.kms,
        options.kekCache,
        (dek) => {
          keys.push(dek)
        },
        options.keyMaterial,
        options.unreadableColumns === 'drop',
      ),
      ...(options.unreadableColumns === undefined
        ? {}
        : { unreadableColumns: options.unreadableColumns }),
      ...(options.aadPrefix === undefined ? {} : { aadPrefix: options.aadPrefix }),
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      ...(options.columns === undefined ? {} : { columns: options.columns }),
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
  options: { kekCache?: KekCache; aadPrefix?: Uint8Array; keyMaterial?: KeyMaterialStore } = {},
): Promise<{ dek: Uint8Array; masterKeyId: string }> {
  let result: { dek: Uint8Array; masterKeyId: string } | undefined
  try {
    await openParquet(
      source,
      keyRetrieverFor(
        kms,
        options.kekCache,
        (dek, masterKeyId) => {
          result = { dek, masterKeyId }
        },
        options.keyMaterial,
      ),
      options.aadPrefix,
    )
  } catch (error) {
    if (result !== undefined) wipe(result.dek)
    throw error
  }
  if (result === undefined) throw new CryptoError('ERR_PARQUET_KEY_MATERIAL', 'No footer key')
  return result
}
