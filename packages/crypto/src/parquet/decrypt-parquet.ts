import { CryptoError } from '../errors.ts'
import { type ByteSink, type ByteSource, outputWriter, type RangeReader } from './byte-io.ts'
import { type KeyRetriever, openEncryptedFooter, PAR1 } from './footer.ts'
import {
  COLUMN_CHUNK,
  columnChunksOf,
  FILE_META_DATA,
  PAGE_HEADER,
  PAGE_TYPE,
  readColumnCryptoMetaData,
  readPageHeader,
  rowGroupsOf,
} from './metadata.ts'
import {
  decryptModuleBody,
  MODULE_OVERHEAD,
  MODULE_TYPE,
  moduleAad,
  moduleLength,
} from './modules.ts'
import { decodeStruct, encodeStruct, i32, removeField, setField } from './thrift-compact.ts'
import type { ChunkResult, ParquetTranscodeStats } from './transcode.ts'
import { finishFile, readPlainPageHeader, transcodeRowGroups } from './transcode.ts'

export type ParquetDecryptOptions = {
  /** Returns the footer key for FileCryptoMetaData.key_metadata. */
  keyRetriever: KeyRetriever
  /** Required when the file was written with an AAD prefix it does not store. */
  aadPrefix?: Uint8Array
  onProgress?: (done: number, total: number) => void
}

/** Counts of the transcode. */
export type ParquetDecryptStats = ParquetTranscodeStats

type Where = { rowGroup: number; column: number; page: number; module: string }

function authFailure(where: Where): never {
  throw new CryptoError(
    'ERR_PARQUET_MODULE_AUTH',
    `The ${where.module} of page ${where.page} in column ${where.column} of row group ${where.rowGroup} failed authentication: tampered, reordered or swapped`,
    { details: where },
  )
}

/** Read one length-prefixed module (`len | nonce | ct | tag`), returning the body. */
async function takeModule(reader: RangeReader, where: Where): Promise<Uint8Array> {
  const length = moduleLength(await reader.take(4))
  if (length < MODULE_OVERHEAD - 4 || length > reader.remaining) {
    throw new CryptoError(
      'ERR_PARQUET_MALFORMED',
      `The ${where.module} module of page ${where.page} in column ${where.column} of row group ${where.rowGroup} has an impossible length`,
      { details: { ...where, length } },
    )
  }
  return reader.take(length)
}

/**
 * Decrypt a Parquet Modular Encryption file (uniform AES_GCM_V1, encrypted footer: ours,
 * parquet-java's, Arrow's) into a plaintext PAR1 file. Every page header and page is
 * authenticated with its spec AAD before a byte of it is written. Plaintext columns of the file
 * are copied. Bloom filters, page indexes and page CRCs are dropped.
 *
 * @example
 * await decryptParquet(bytesSource(encrypted), sink, { keyRetriever: () => footerKey })
 * @throws CryptoError `ERR_PARQUET_FOOTER_AUTH` (wrong key or tampered footer),
 * `ERR_PARQUET_MODULE_AUTH` (tampered, reordered or swapped page or header; `details` name the
 * row group, column and page), `ERR_PARQUET_NOT_ENCRYPTED`, `ERR_PARQUET_UNSUPPORTED`
 * (AES_GCM_CTR_V1, column keys, plaintext footer), `ERR_PARQUET_AAD_PREFIX`,
 * `ERR_CRYPTO_KEY_LENGTH`, `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`.
 */
export async function decryptParquet(
  source: ByteSource,
  sink: ByteSink,
  options: ParquetDecryptOptions,
): Promise<ParquetDecryptStats> {
  const footer = await openEncryptedFooter(source, options.keyRetriever, options.aadPrefix)
  const { fileMetaData, fileAad, key } = footer
  // Refuse column keys before writing anything.
  for (const rowGroup of rowGroupsOf(fileMetaData)) {
    for (const chunk of columnChunksOf(rowGroup)) {
      const crypto = readColumnCryptoMetaData(chunk)
      if (crypto?.kind === 'column-key') {
        throw new CryptoError(
          'ERR_PARQUET_UNSUPPORTED',
          `Column keys are not supported yet (column ${crypto.pathInSchema.join('.')})`,
        )
      }
    }
  }
  const out = outputWriter(sink)
  await out.write(PAR1)
  const pages = await transcodeRowGroups({
    source,
    out,
    fileMetaData,
    dataEnd: footer.tail.footerStart,
    onProgress: options.onProgress,
    finishChunk(chunk) {
      removeField(chunk, COLUMN_CHUNK.cryptoMetadata)
      removeField(chunk, COLUMN_CHUNK.encryptedColumnMetadata)
    },
    async chunk({ rowGroup, column, chunk, reader, out, pageDone }) {
      const crypto = readColumnCryptoMetaData(chunk)
      const result: ChunkResult = {}
      let ordinal = 0
      while (reader.remaining > 0) {
        if (crypto === undefined) {
          // A plaintext column in an encrypted file: copy as is.
          const position = out.position
          const { header, raw } = await readPlainPageHeader(reader)
          const info = readPageHeader(header)
          const page = await reader.take(info.compressedPageSize)
          if (info.type === PAGE_TYPE.DICTIONARY_PAGE) result.dictionaryPageOffset ??= position
          else result.dataPageOffset ??= position
          await out.write(raw)
          await out.write(page)
          pageDone()
          continue
        }
        const first =
          result.dataPageOffset === undefined && result.dictionaryPageOffset === undefined
        const where: Where = { rowGroup, column, page: ordinal, module: 'page header' }
        const body = await takeModule(reader, where)
        // Only the first page of a chunk may be a dictionary page; its AAD says which it is.
        let dictionary = false
        let plainHeader = decryptModuleBody(
          key,
          body,
          moduleAad(fileAad, MODULE_TYPE.DATA_PAGE_HEADER, rowGroup, column, ordinal),
        )
        if (plainHeader === undefined && first) {
          dictionary = true
          plainHeader = decryptModuleBody(
            key,
            body,
            moduleAad(fileAad, MODULE_TYPE.DICTIONARY_PAGE_HEADER, rowGroup, column),
          )
        }
        if (plainHeader === undefined) authFailure(where)
        // Trailing bytes are tolerated (parquet-mr 1.17 pads encrypted headers with zeros).
        const header = decodeStruct(plainHeader).value
        const info = readPageHeader(header)
        if ((info.type === PAGE_TYPE.DICTIONARY_PAGE) !== dictionary) {
          throw new CryptoError(
            'ERR_PARQUET_MALFORMED',
            `Page ${ordinal} in column ${column} of row group ${rowGroup} has a header of the wrong kind`,
          )
        }
        const pageWhere: Where = { ...where, module: dictionary ? 'dictionary page' : 'data page' }
        const prefix = await reader.take(4)
        if (
          info.compressedPageSize < MODULE_OVERHEAD ||
          moduleLength(prefix) !== info.compressedPageSize - 4
        ) {
          throw new CryptoError(
            'ERR_PARQUET_MALFORMED',
            `Page ${ordinal} in column ${column} of row group ${rowGroup}: module length disagrees with its header`,
            { details: pageWhere },
          )
        }
        const page = decryptModuleBody(
          key,
          await reader.take(info.compressedPageSize - 4),
          dictionary
            ? moduleAad(fileAad, MODULE_TYPE.DICTIONARY_PAGE, rowGroup, column)
            : moduleAad(fileAad, MODULE_TYPE.DATA_PAGE, rowGroup, column, ordinal),
        )
        if (page === undefined) authFailure(pageWhere)
        setField(header, PAGE_HEADER.compressedPageSize, i32(page.length))
        removeField(header, PAGE_HEADER.crc)
        if (dictionary) result.dictionaryPageOffset = out.position
        else result.dataPageOffset ??= out.position
        await out.write(encodeStruct(header))
        await out.write(page)
        if (!dictionary) ordinal++
        pageDone()
      }
      return result
    },
  })
  removeField(fileMetaData, FILE_META_DATA.encryptionAlgorithm)
  removeField(fileMetaData, FILE_META_DATA.footerSigningKeyMetadata)
  return finishFile(out, encodeStruct(fileMetaData), PAR1, fileMetaData, pages, {
    encryptedBytes: source.size,
  })
}
