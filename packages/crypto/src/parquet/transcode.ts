import { concatBytes } from '@subrosa/core'
import { CryptoError } from '../errors.ts'
import { type ByteSource, type OutputWriter, type RangeReader, rangeReader } from './byte-io.ts'
import {
  COLUMN_CHUNK,
  COLUMN_META_DATA,
  chunkRange,
  columnChunksOf,
  numRows,
  ROW_GROUP,
  rowGroupsOf,
  schemaColumns,
  toOffset,
} from './metadata.ts'
import { MAX_ORDINAL } from './modules.ts'
import {
  decodeStruct,
  getField,
  i16,
  i64,
  isThriftEof,
  optional,
  removeField,
  setField,
  type ThriftStruct,
} from './thrift-compact.ts'

/** Counts of a transcode (either direction); byte counts are whole-file sizes. */
export type ParquetTranscodeStats = {
  rows: number
  rowGroups: number
  columns: number
  pages: number
  plaintextBytes: number
  encryptedBytes: number
}

/**
 * End a transcoded file: the footer region (FileMetaData, or FileCryptoMetaData and the
 * encrypted footer), its 4-byte little-endian length and the magic; then the counts.
 */
export async function finishFile(
  out: OutputWriter,
  footer: Uint8Array,
  magic: Uint8Array,
  fileMetaData: ThriftStruct,
  pages: number,
  sizes: { plaintextBytes: number } | { encryptedBytes: number },
): Promise<ParquetTranscodeStats> {
  const length = new Uint8Array(4)
  new DataView(length.buffer).setUint32(0, footer.length, true)
  await out.write(concatBytes(footer, length, magic))
  await out.flush()
  const written = out.position
  return {
    rows: numRows(fileMetaData),
    rowGroups: rowGroupsOf(fileMetaData).length,
    columns: schemaColumns(fileMetaData).length,
    pages,
    plaintextBytes: 'plaintextBytes' in sizes ? sizes.plaintextBytes : written,
    encryptedBytes: 'encryptedBytes' in sizes ? sizes.encryptedBytes : written,
  }
}

export type ChunkContext = {
  rowGroup: number
  column: number
  chunk: ThriftStruct
  reader: RangeReader
  out: OutputWriter
  /** Call after each page: counts it and reports progress. */
  pageDone(): void
}

/** Where the rewritten chunk's first dictionary and data page headers landed. */
export type ChunkResult = { dictionaryPageOffset?: number; dataPageOffset?: number }

export type TranscodeOptions = {
  source: ByteSource
  out: OutputWriter
  fileMetaData: ThriftStruct
  /** Column data must end before this offset (the footer region). */
  dataEnd: number
  chunk: (ctx: ChunkContext) => Promise<ChunkResult>
  /** Sets or clears crypto fields of a rewritten ColumnChunk. */
  finishChunk: (chunk: ThriftStruct) => void
  onProgress?: ((done: number, total: number) => void) | undefined
}

function malformed(message: string): never {
  throw new CryptoError('ERR_PARQUET_MALFORMED', message)
}

function unsupported(message: string): never {
  throw new CryptoError('ERR_PARQUET_UNSUPPORTED', message)
}

const FIRST_PEEK = 16 * 1024
const MAX_PAGE_HEADER = 64 * 1024 * 1024

/** Parse a plaintext page header whose length is only known once parsed. */
export async function readPlainPageHeader(
  reader: RangeReader,
): Promise<{ header: ThriftStruct; raw: Uint8Array }> {
  let want = Math.min(FIRST_PEEK, reader.remaining)
  for (;;) {
    const view = await reader.peek(want)
    try {
      const { value, end } = decodeStruct(view)
      return { header: value, raw: await reader.take(end) }
    } catch (error) {
      if (!isThriftEof(error) || view.length >= reader.remaining || want >= MAX_PAGE_HEADER) {
        throw error
      }
      want = Math.min(want * 4, reader.remaining, MAX_PAGE_HEADER)
    }
  }
}

/**
 * Rewrite every column chunk of every row group through `chunk`, then fix the offsets and sizes
 * of ColumnMetaData, ColumnChunk and RowGroup for the new layout. Bloom filters and page indexes
 * are not carried over: their fields are cleared. Returns the number of pages written.
 */
export async function transcodeRowGroups(options: TranscodeOptions): Promise<number> {
  const { source, out, fileMetaData, dataEnd, onProgress } = options
  const groups = rowGroupsOf(fileMetaData)
  if (groups.length > MAX_ORDINAL + 1)
    unsupported(`${groups.length} row groups exceed ${MAX_ORDINAL + 1}`)
  // Validate every chunk before writing anything.
  const plan = groups.map((rowGroup, g) => {
    const ordinal = optional(rowGroup, ROW_GROUP.ordinal, 'i16', 'RowGroup.ordinal')?.value
    if (ordinal !== undefined && ordinal !== g) malformed(`Row group ${g} has ordinal ${ordinal}`)
    const chunks = columnChunksOf(rowGroup)
    if (chunks.length > MAX_ORDINAL + 1)
      unsupported(`${chunks.length} columns exceed ${MAX_ORDINAL + 1}`)
    return chunks.map((chunk, c) => {
      if (getField(chunk, COLUMN_CHUNK.filePath) !== undefined) {
        unsupported(`Column ${c} of row group ${g} keeps its data in another file`)
      }
      const meta = optional(chunk, COLUMN_CHUNK.metaData, 'struct', 'ColumnChunk.meta_data')
      if (meta === undefined) {
        if (getField(chunk, COLUMN_CHUNK.encryptedColumnMetadata) !== undefined) {
          unsupported('Column keys (encrypted_column_metadata) are not supported yet')
        }
        malformed(`Column ${c} of row group ${g} has no meta_data`)
      }
      const range = chunkRange(meta.value)
      if (range.start < 4 || range.start + range.length > dataEnd) {
        malformed(`Column ${c} of row group ${g} lies outside the data region`)
      }
      return { chunk, meta: meta.value, range }
    })
  })
  const total = source.size
  let done = 0
  let pages = 0
  for (const [g, chunks] of plan.entries()) {
    const rowGroup = groups[g] as ThriftStruct
    const groupStart = out.position
    for (const [c, { chunk, meta, range }] of chunks.entries()) {
      const start = out.position
      const reader = rangeReader(source, range.start, range.start + range.length)
      const result = await options.chunk({
        rowGroup: g,
        column: c,
        chunk,
        reader,
        out,
        pageDone() {
          pages++
          onProgress?.(Math.min(total, done + reader.position - range.start), total)
        },
      })
      done += range.length
      if (result.dataPageOffset === undefined)
        malformed(`Column ${c} of row group ${g} has no data page`)
      const length = out.position - start
      setField(meta, COLUMN_META_DATA.dataPageOffset, i64(result.dataPageOffset))
      if (result.dictionaryPageOffset === undefined) {
        removeField(meta, COLUMN_META_DATA.dictionaryPageOffset)
      } else setField(meta, COLUMN_META_DATA.dictionaryPageOffset, i64(result.dictionaryPageOffset))
      setField(meta, COLUMN_META_DATA.totalCompressedSize, i64(length))
      for (const id of [
        COLUMN_META_DATA.indexPageOffset,
        COLUMN_META_DATA.bloomFilterOffset,
        COLUMN_META_DATA.bloomFilterLength,
      ]) {
        removeField(meta, id)
      }
      const fileOffset = optional(chunk, COLUMN_CHUNK.fileOffset, 'i64', 'file_offset')
      if (fileOffset !== undefined) {
        // Deprecated; writers disagree on what it points at. Keep its meaning where it is clear.
        const old = toOffset(fileOffset.value, 'file_offset')
        const mapped = old === 0 ? 0 : old === range.start + range.length ? start + length : start
        setField(chunk, COLUMN_CHUNK.fileOffset, i64(mapped))
      }
      for (const id of [
        COLUMN_CHUNK.offsetIndexOffset,
        COLUMN_CHUNK.offsetIndexLength,
        COLUMN_CHUNK.columnIndexOffset,
        COLUMN_CHUNK.columnIndexLength,
      ]) {
        removeField(chunk, id)
      }
      options.finishChunk(chunk)
    }
    if (chunks.length > 0) {
      setField(rowGroup, ROW_GROUP.fileOffset, i64(groupStart))
      setField(rowGroup, ROW_GROUP.totalCompressedSize, i64(out.position - groupStart))
    }
    setField(rowGroup, ROW_GROUP.ordinal, i16(g))
  }
  onProgress?.(total, total)
  return pages
}
