import { type RandomBytes, systemRandom } from '@subrosa/core'
import { gcmCipher } from '../aead.ts'
import { CryptoError } from '../errors.ts'
import { type ByteSink, type ByteSource, outputWriter, spanCachedSource } from './byte-io.ts'
import { type ColumnKey, encryptedSink } from './encrypted-side.ts'
import { readPlaintextFooter } from './footer.ts'
import { schemaColumns } from './metadata.ts'
import type { PmeAlgorithm } from './modules.ts'
import { plainSource } from './plain-side.ts'
import { type ParquetTranscodeStats, transcodeFile } from './transcode.ts'

export type ParquetEncryptOptions = {
  /** AES key (16, 24 or 32 bytes) of the footer (and of every column without its own key). */
  footerKey: Uint8Array
  /** Stored as the footer's key_metadata (e.g. PKMT1 key material, or a key id). */
  footerKeyMetadata?: Uint8Array
  /** Column keys by dotted column path (`a.b.list.element`); each with optional key_metadata. */
  columnKeys?: Readonly<Record<string, ColumnKey>>
  /**
   * Columns without their own key: `footer-key` (the default without column keys: uniform
   * encryption) or `plaintext` (the default with column keys, as parquet-java and Arrow do).
   */
  otherColumns?: 'footer-key' | 'plaintext'
  /** Default AES_GCM_V1. AES_GCM_CTR_V1 encrypts pages with CTR (faster, pages unauthenticated). */
  algorithm?: PmeAlgorithm
  /** PAR1 with a signed plaintext footer, so legacy readers read the plaintext columns. */
  plaintextFooter?: boolean
  /** Protects against file swapping; stored in the file unless `storeAadPrefix` is false. */
  aadPrefix?: Uint8Array
  storeAadPrefix?: boolean
  /**
   * Bloom filters of the input: `drop` (default) or `keep` (encrypted like the column). DuckDB
   * 1.5 fails on encrypted bloom filters (its tag check rejects them), so files DuckDB is to read
   * must not carry them; Spark and Arrow readers use them.
   */
  bloomFilters?: 'keep' | 'drop'
  /** The file-unique AAD part; 8 random bytes by default. */
  aadFileUnique?: Uint8Array
  random?: RandomBytes
  onProgress?: (done: number, total: number) => void
}

/** Counts of the transcode. */
export type ParquetEncryptStats = ParquetTranscodeStats

/**
 * Transcode a plaintext Parquet file (PAR1) into Parquet Modular Encryption, page by page (memory
 * stays bounded by the largest page): each page header, page, column and offset index and bloom
 * filter becomes its own module with the spec AAD; ColumnMetaData of columns with their own key
 * (or of every encrypted column under a plaintext footer) is encrypted separately; the footer is
 * encrypted (PARE) or signed (PAR1). Page CRCs are dropped (GCM authenticates every page).
 *
 * @example
 * await encryptParquet(bytesSource(plain), sink, { footerKey, footerKeyMetadata: utf8('kf') })
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH`, `ERR_PARQUET_COLUMN` (a column key for a column
 * the file does not have), `ERR_PARQUET_ALREADY_ENCRYPTED`, `ERR_PARQUET_MALFORMED`,
 * `ERR_PARQUET_TRUNCATED`, `ERR_PARQUET_UNSUPPORTED` (more than 32767 row groups, columns or
 * pages per chunk; index pages; column data in other files).
 */
export async function encryptParquet(
  source: ByteSource,
  sink: ByteSink,
  options: ParquetEncryptOptions,
): Promise<ParquetEncryptStats> {
  gcmCipher(options.footerKey, 'footer key')
  const columnKeys = new Map(Object.entries(options.columnKeys ?? {}))
  for (const [path, { key }] of columnKeys) gcmCipher(key, `key of column ${path}`)
  const random = options.random ?? systemRandom
  const { tail, fileMetaData } = await readPlaintextFooter(source)
  const known = new Set(schemaColumns(fileMetaData).map((c) => c.path.join('.')))
  for (const path of columnKeys.keys()) {
    if (!known.has(path)) {
      throw new CryptoError('ERR_PARQUET_COLUMN', `The file has no column ${path}`, {
        details: { column: path },
      })
    }
  }
  if (options.storeAadPrefix === false && options.aadPrefix === undefined) {
    throw new CryptoError('ERR_PARQUET_AAD_PREFIX', 'storeAadPrefix: false needs an aadPrefix')
  }
  const cached = spanCachedSource(source)
  return transcodeFile({
    source: cached,
    cache: cached,
    out: outputWriter(sink),
    fileMetaData,
    dataEnd: tail.footerStart,
    from: plainSource(cached, tail.footerStart),
    to: encryptedSink({
      algorithm: options.algorithm ?? 'AES_GCM_V1',
      footerKey: options.footerKey,
      ...(options.footerKeyMetadata === undefined
        ? {}
        : { footerKeyMetadata: options.footerKeyMetadata }),
      columnKeys,
      otherColumns: options.otherColumns ?? (columnKeys.size === 0 ? 'footer-key' : 'plaintext'),
      plaintextFooter: options.plaintextFooter ?? false,
      ...(options.aadPrefix === undefined ? {} : { aadPrefix: options.aadPrefix }),
      storeAadPrefix: options.storeAadPrefix ?? true,
      aadFileUnique: options.aadFileUnique ?? random(8),
      random,
    }),
    onProgress: options.onProgress,
    direction: 'encrypt',
    bloomFilters: options.bloomFilters ?? 'drop',
  })
}
