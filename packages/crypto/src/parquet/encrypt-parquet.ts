import { concatBytes, type RandomBytes, systemRandom } from '@subrosa/core'
import { gcmCipher } from '../aead.ts'
import { CryptoError } from '../errors.ts'
import { type ByteSink, type ByteSource, outputWriter } from './byte-io.ts'
import { PARE, readPlaintextFooter } from './footer.ts'
import {
  COLUMN_CHUNK,
  ENCRYPTION_WITH_FOOTER_KEY,
  encodeFileCryptoMetaData,
  FILE_META_DATA,
  PAGE_HEADER,
  PAGE_TYPE,
  readPageHeader,
} from './metadata.ts'
import { encryptModule, MAX_ORDINAL, MODULE_TYPE, moduleAad } from './modules.ts'
import { encodeStruct, i32, removeField, setField } from './thrift-compact.ts'
import type { ParquetTranscodeStats } from './transcode.ts'
import { finishFile, readPlainPageHeader, transcodeRowGroups } from './transcode.ts'

export type ParquetEncryptOptions = {
  /** AES key (16, 24 or 32 bytes) for the footer and every column (uniform encryption). */
  footerKey: Uint8Array
  /** Stored as FileCryptoMetaData.key_metadata (e.g. PKMT1 key material). */
  footerKeyMetadata: Uint8Array
  /** The file-unique AAD part; 8 random bytes by default. */
  aadFileUnique?: Uint8Array
  random?: RandomBytes
  onProgress?: (done: number, total: number) => void
}

/** Counts of the transcode. */
export type ParquetEncryptStats = ParquetTranscodeStats

/**
 * Transcode a plaintext Parquet file (PAR1) into Parquet Modular Encryption: uniform
 * AES_GCM_V1 with one key for the footer and all columns, encrypted footer (PARE). Every page
 * header and page becomes its own GCM module with the spec AAD; reads go page by page, so memory
 * stays bounded by the largest page. Bloom filters and page indexes are dropped; page CRCs too
 * (GCM authenticates every page).
 *
 * @example
 * const sink = memorySink()
 * await encryptParquet(bytesSource(plain), sink, { footerKey, footerKeyMetadata: utf8('kf') })
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH`, `ERR_PARQUET_ALREADY_ENCRYPTED`,
 * `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`, `ERR_PARQUET_UNSUPPORTED` (more than 32767
 * row groups, columns or pages per chunk; index pages; column data in other files).
 */
export async function encryptParquet(
  source: ByteSource,
  sink: ByteSink,
  options: ParquetEncryptOptions,
): Promise<ParquetEncryptStats> {
  const key = options.footerKey
  gcmCipher(key, 'footer key')
  const random = options.random ?? systemRandom
  const fileAad = options.aadFileUnique ?? random(8)
  const { tail, fileMetaData } = await readPlaintextFooter(source)
  const out = outputWriter(sink)
  await out.write(PARE)
  const pages = await transcodeRowGroups({
    source,
    out,
    fileMetaData,
    dataEnd: tail.footerStart,
    onProgress: options.onProgress,
    finishChunk(chunk) {
      setField(chunk, COLUMN_CHUNK.cryptoMetadata, ENCRYPTION_WITH_FOOTER_KEY)
      removeField(chunk, COLUMN_CHUNK.encryptedColumnMetadata)
    },
    async chunk({ rowGroup, column, reader, out, pageDone }) {
      let ordinal = 0
      let dictionaryPageOffset: number | undefined
      let dataPageOffset: number | undefined
      while (reader.remaining > 0) {
        const { header } = await readPlainPageHeader(reader)
        const info = readPageHeader(header)
        const page = await reader.take(info.compressedPageSize)
        const dictionary = info.type === PAGE_TYPE.DICTIONARY_PAGE
        if (
          !dictionary &&
          info.type !== PAGE_TYPE.DATA_PAGE &&
          info.type !== PAGE_TYPE.DATA_PAGE_V2
        ) {
          throw new CryptoError(
            'ERR_PARQUET_UNSUPPORTED',
            `Page type ${info.type} is not supported`,
          )
        }
        if (!dictionary && ordinal > MAX_ORDINAL) {
          throw new CryptoError(
            'ERR_PARQUET_UNSUPPORTED',
            `Column ${column} of row group ${rowGroup} has more than ${MAX_ORDINAL + 1} pages`,
          )
        }
        if (dictionary && (ordinal > 0 || dictionaryPageOffset !== undefined)) {
          throw new CryptoError(
            'ERR_PARQUET_MALFORMED',
            `Column ${column} of row group ${rowGroup}: a dictionary page must come first`,
          )
        }
        const pageOrdinal = dictionary ? undefined : ordinal
        const pageModule = encryptModule(
          key,
          page,
          moduleAad(
            fileAad,
            dictionary ? MODULE_TYPE.DICTIONARY_PAGE : MODULE_TYPE.DATA_PAGE,
            rowGroup,
            column,
            pageOrdinal,
          ),
          random,
        )
        // compressed_page_size counts the encrypted page as stored (parquet-java, Arrow).
        setField(header, PAGE_HEADER.compressedPageSize, i32(pageModule.length))
        removeField(header, PAGE_HEADER.crc)
        const headerModule = encryptModule(
          key,
          encodeStruct(header),
          moduleAad(
            fileAad,
            dictionary ? MODULE_TYPE.DICTIONARY_PAGE_HEADER : MODULE_TYPE.DATA_PAGE_HEADER,
            rowGroup,
            column,
            pageOrdinal,
          ),
          random,
        )
        if (dictionary) dictionaryPageOffset ??= out.position
        else dataPageOffset ??= out.position
        await out.write(headerModule)
        await out.write(pageModule)
        if (!dictionary) ordinal++
        pageDone()
      }
      return {
        ...(dictionaryPageOffset === undefined ? {} : { dictionaryPageOffset }),
        ...(dataPageOffset === undefined ? {} : { dataPageOffset }),
      }
    },
  })
  removeField(fileMetaData, FILE_META_DATA.encryptionAlgorithm)
  removeField(fileMetaData, FILE_META_DATA.footerSigningKeyMetadata)
  const footer = encryptModule(
    key,
    encodeStruct(fileMetaData),
    moduleAad(fileAad, MODULE_TYPE.FOOTER),
    random,
  )
  const crypto = encodeFileCryptoMetaData(fileAad, options.footerKeyMetadata)
  return finishFile(out, concatBytes(crypto, footer), PARE, fileMetaData, pages, {
    plaintextBytes: source.size,
  })
}
