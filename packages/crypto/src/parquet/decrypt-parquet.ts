import type { ByteSink, ByteSource } from './byte-io.ts'
import { outputWriter, spanCachedSource } from './byte-io.ts'
import { encryptedSource } from './encrypted-side.ts'
import { type KeyRetriever, openParquet } from './footer.ts'
import { plainSink } from './plain-side.ts'
import { type ParquetTranscodeStats, transcodeFile } from './transcode.ts'

export type ParquetDecryptOptions = {
  /** Returns the key for the footer and for each encrypted column, from its key_metadata. */
  keyRetriever: KeyRetriever
  /** Required when the file was written with an AAD prefix it does not store. */
  aadPrefix?: Uint8Array
  /**
   * Columns whose key the retriever does not give: `error` (default) refuses the file with
   * `ERR_PARQUET_KEY_UNAVAILABLE`; `drop` leaves them out of the output (column access control).
   */
  unreadableColumns?: 'error' | 'drop'
  /**
   * Which columns to decrypt, by path in the schema (default: all). The others are neither read
   * nor decrypted and leave the output's schema (a projection, not access control: they are not
   * counted in `droppedColumns`). At least one column must stay (`ERR_PARQUET_UNSUPPORTED`).
   */
  columns?: (path: readonly string[]) => boolean
  onProgress?: (done: number, total: number) => void
}

/** Counts of the transcode. */
export type ParquetDecryptStats = ParquetTranscodeStats

/**
 * Decrypt a Parquet Modular Encryption file into plaintext Parquet (PAR1): either algorithm
 * (AES_GCM_V1, AES_GCM_CTR_V1), encrypted or signed plaintext footer, footer and column keys,
 * stored or supplied AAD prefix. Every module (footer, column metadata, page headers, GCM pages,
 * column and offset indexes, bloom filters) is authenticated with its spec AAD before a byte of
 * it is written; CTR pages cannot be authenticated (the algorithm's choice). Plaintext columns
 * are copied. Page CRCs are dropped.
 *
 * @example
 * await decryptParquet(bytesSource(encrypted), sink, { keyRetriever: () => footerKey })
 * @throws CryptoError `ERR_PARQUET_FOOTER_AUTH` (wrong key or tampered footer),
 * `ERR_PARQUET_MODULE_AUTH` (tampered, reordered or swapped module; `details` name the module,
 * row group, column and page), `ERR_PARQUET_KEY_UNAVAILABLE`, `ERR_PARQUET_NOT_ENCRYPTED`,
 * `ERR_PARQUET_AAD_PREFIX`, `ERR_PARQUET_UNSUPPORTED`, `ERR_CRYPTO_KEY_LENGTH`,
 * `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`.
 */
export async function decryptParquet(
  source: ByteSource,
  sink: ByteSink,
  options: ParquetDecryptOptions,
): Promise<ParquetDecryptStats> {
  const opened = await openParquet(source, options.keyRetriever, options.aadPrefix)
  const cached = spanCachedSource(source)
  return transcodeFile({
    source: cached,
    cache: cached,
    out: outputWriter(sink),
    fileMetaData: opened.fileMetaData,
    dataEnd: opened.tail.footerStart,
    from: encryptedSource(cached, opened, {
      keyRetriever: options.keyRetriever,
      unreadable: options.unreadableColumns ?? 'error',
    }),
    to: plainSink(),
    onProgress: options.onProgress,
    columns: options.columns,
    direction: 'decrypt',
  })
}
