// The plaintext halves of the transcoder: reading a plaintext file (encrypt) and writing one
// (decrypt). Also used for plaintext columns inside encrypted files.
import { CryptoError } from '../errors.ts'
import { type ByteSource, type OutputWriter, type RangeReader, rangeReader } from './byte-io.ts'
import { PAR1 } from './footer.ts'
import { COLUMN_CHUNK, FILE_META_DATA, PAGE_HEADER, PAGE_TYPE, readPageHeader } from './metadata.ts'
import {
  encodeStruct,
  getField,
  i32,
  optional,
  removeField,
  setField,
  type ThriftStruct,
} from './thrift-compact.ts'
import {
  type BloomFilter,
  type ExtraLocation,
  type PlainPage,
  readPlainPageHeader,
  type SinkSide,
  type SourceSide,
} from './transcode.ts'

const BLOOM_HEADER = { numBytes: 1 } as const
const MAX_BLOOM_BYTES = 128 * 1024 * 1024

/** A plaintext page: header, then `compressed_page_size` bytes. */
export async function readPlainPage(reader: RangeReader): Promise<PlainPage> {
  const { header } = await readPlainPageHeader(reader)
  const info = readPageHeader(header)
  const page =
    reader.takeLoaded(info.compressedPageSize) ?? (await reader.take(info.compressedPageSize))
  return { header, page, dictionary: info.type === PAGE_TYPE.DICTIONARY_PAGE }
}

/** A plaintext Thrift struct (page index) at a location. */
export async function readPlainStruct(
  source: ByteSource,
  at: ExtraLocation,
  end: number,
): Promise<ThriftStruct> {
  const reader = rangeReader(
    source,
    at.offset,
    at.length === undefined ? end : at.offset + at.length,
  )
  return (await readPlainPageHeader(reader)).header
}

/** Bloom filter header's num_bytes, checked. */
export function bloomBitsetLength(header: ThriftStruct, what: string): number {
  const n = optional(header, BLOOM_HEADER.numBytes, 'i32', 'BloomFilterHeader.numBytes')?.value
  if (n === undefined || n <= 0 || n > MAX_BLOOM_BYTES) {
    throw new CryptoError(
      'ERR_PARQUET_MALFORMED',
      `The bloom filter of ${what} has an impossible size`,
    )
  }
  return n
}

/** A plaintext bloom filter: header struct then its bitset. */
export async function readPlainBloomFilter(
  source: ByteSource,
  at: ExtraLocation,
  end: number,
  what: string,
): Promise<BloomFilter> {
  const reader = rangeReader(
    source,
    at.offset,
    at.length === undefined ? end : at.offset + at.length,
  )
  const { header } = await readPlainPageHeader(reader)
  const bitset = await reader.take(bloomBitsetLength(header, what))
  return { header, bitset }
}

/**
 * Reading a plaintext file (PAR1 without encryption).
 *
 * @throws CryptoError `ERR_PARQUET_ALREADY_ENCRYPTED` for a chunk with crypto metadata.
 */
export function plainSource(source: ByteSource, dataEnd: number): SourceSide {
  return {
    async columnMeta(chunk, ref) {
      if (
        getField(chunk, COLUMN_CHUNK.cryptoMetadata) !== undefined ||
        getField(chunk, COLUMN_CHUNK.encryptedColumnMetadata) !== undefined
      ) {
        throw new CryptoError('ERR_PARQUET_ALREADY_ENCRYPTED', 'The file has encrypted columns')
      }
      const meta = optional(chunk, COLUMN_CHUNK.metaData, 'struct', 'ColumnChunk.meta_data')
      if (meta === undefined) {
        throw new CryptoError(
          'ERR_PARQUET_MALFORMED',
          `Column ${ref.column} of row group ${ref.rowGroup} has no meta_data`,
        )
      }
      return meta.value
    },
    readPage: (_ref, reader) => readPlainPage(reader),
    readIndex: (_kind, _ref, at) => readPlainStruct(source, at, dataEnd),
    readBloomFilter: (ref, at) =>
      readPlainBloomFilter(
        source,
        at,
        dataEnd,
        `column ${ref.column} in row group ${ref.rowGroup}`,
      ),
  }
}

/** Write a page in plaintext: the header with the stored size, then the page. */
export async function writePlainPage(page: PlainPage, out: OutputWriter): Promise<void> {
  setField(page.header, PAGE_HEADER.compressedPageSize, i32(page.page.length))
  removeField(page.header, PAGE_HEADER.crc)
  await out.writeAll([encodeStruct(page.header), page.page])
}

export async function writePlainBloomFilter(filter: BloomFilter, out: OutputWriter) {
  await out.write(encodeStruct(filter.header))
  await out.write(filter.bitset)
}

/** Writing a plaintext file: no crypto fields anywhere, PAR1. */
export function plainSink(): SinkSide {
  return {
    magic: PAR1,
    writePage: (_ref, page, out) => writePlainPage(page, out),
    writeIndex: (_kind, _ref, index, out) => out.write(encodeStruct(index)),
    writeBloomFilter: (_ref, filter, out) => writePlainBloomFilter(filter, out),
    finishChunk(_ref, chunk, meta) {
      setField(chunk, COLUMN_CHUNK.metaData, { type: 'struct', value: meta })
      removeField(chunk, COLUMN_CHUNK.cryptoMetadata)
      removeField(chunk, COLUMN_CHUNK.encryptedColumnMetadata)
    },
    footer(fileMetaData) {
      removeField(fileMetaData, FILE_META_DATA.encryptionAlgorithm)
      removeField(fileMetaData, FILE_META_DATA.footerSigningKeyMetadata)
      return encodeStruct(fileMetaData)
    },
  }
}
