// The one transcoder behind encrypt and decrypt: page by page from a source side (plaintext or
// encrypted) to a sink side (plaintext or encrypted), then page indexes and bloom filters, then
// the footer. Memory is bounded by the largest page plus the footer.
import { CryptoError } from '../errors.ts'
import {
  type ByteSource,
  type OutputWriter,
  type RangeReader,
  rangeReader,
  type SpanCachedSource,
} from './byte-io.ts'
import {
  COLUMN_CHUNK,
  COLUMN_META_DATA,
  chunkRange,
  columnChunksOf,
  numRows,
  PAGE_TYPE,
  ROW_GROUP,
  readColumnCryptoMetaData,
  readPageHeader,
  rowGroupsOf,
  schemaColumns,
  toOffset,
} from './metadata.ts'
import { MAX_ORDINAL } from './modules.ts'
import { remapOffsetIndex } from './page-index.ts'
import { dropColumns } from './schema-edit.ts'
import {
  decodeStruct,
  getField,
  i16,
  i32,
  i64,
  isThriftEof,
  listOf,
  optional,
  removeField,
  setField,
  type ThriftStruct,
  text,
} from './thrift-compact.ts'

/** Counts of a transcode (either direction); byte counts are whole-file sizes. */
export type ParquetTranscodeStats = {
  rows: number
  rowGroups: number
  columns: number
  pages: number
  plaintextBytes: number
  encryptedBytes: number
  /** Columns left out because the reader had no key for them (dotted paths). */
  droppedColumns: string[]
}

/** A column chunk being transcoded. */
export type ChunkRef = {
  readonly rowGroup: number
  readonly column: number
  /** path_in_schema */
  readonly path: readonly string[]
}

/** A page of a chunk: ordinal counts data pages only (the AAD's page ordinal). */
export type PageRef = ChunkRef & {
  readonly ordinal: number
  readonly first: boolean
  /** The chunk's metadata names a dictionary page: try that AAD first (a failed try costs). */
  readonly dictionaryLikely?: boolean
}

/** A page as the source side hands it over: its header and plaintext body. */
export type PlainPage = {
  readonly header: ThriftStruct
  readonly page: Uint8Array
  readonly dictionary: boolean
}

export type ExtraKind = 'bloom-filter' | 'column-index' | 'offset-index'

/** A bloom filter: its header (BloomFilterHeader) and bitset. */
export type BloomFilter = { readonly header: ThriftStruct; readonly bitset: Uint8Array }

/** Where a page index or bloom filter is in the source file. */
export type ExtraLocation = { readonly offset: number; readonly length?: number }

/** The reading half: a plaintext file, or an encrypted one with its keys. */
export type SourceSide = {
  /** Plaintext ColumnMetaData of a chunk; `undefined` drops the column (no key for it). */
  columnMeta(chunk: ThriftStruct, ref: Omit<ChunkRef, 'path'>): Promise<ThriftStruct | undefined>
  readPage(ref: PageRef, reader: RangeReader): Promise<PlainPage>
  readIndex(
    kind: 'column-index' | 'offset-index',
    ref: ChunkRef,
    at: ExtraLocation,
  ): Promise<ThriftStruct>
  readBloomFilter(ref: ChunkRef, at: ExtraLocation): Promise<BloomFilter>
}

/** The writing half. */
export type SinkSide = {
  readonly magic: Uint8Array
  /** Write a page's header and body (the header's sizes are the sink's to set). */
  writePage(ref: PageRef, page: PlainPage, out: OutputWriter): Promise<void>
  writeIndex(
    kind: 'column-index' | 'offset-index',
    ref: ChunkRef,
    index: ThriftStruct,
    out: OutputWriter,
  ): Promise<void>
  writeBloomFilter(ref: ChunkRef, filter: BloomFilter, out: OutputWriter): Promise<void>
  /** Put the final ColumnMetaData into the chunk (plain, encrypted, or both) and crypto fields. */
  finishChunk(ref: ChunkRef, chunk: ThriftStruct, meta: ThriftStruct): void
  /** The footer region (what precedes the 4-byte length and the magic). */
  footer(fileMetaData: ThriftStruct): Uint8Array
}

export type TranscodeOptions = {
  readonly source: ByteSource
  readonly out: OutputWriter
  readonly fileMetaData: ThriftStruct
  /** Column data must end before this offset (the footer region). */
  readonly dataEnd: number
  readonly from: SourceSide
  readonly to: SinkSide
  readonly onProgress?: ((done: number, total: number) => void) | undefined
  /** Which of the byte counts is the source's size. */
  readonly direction: 'encrypt' | 'decrypt'
  /** Carry bloom filters over (default) or leave them out. */
  readonly bloomFilters?: 'keep' | 'drop'
  /**
   * Which columns to write, by path in the schema (default: all). The others are neither read
   * nor decrypted, and leave the schema; at least one column must stay.
   */
  readonly columns?: ((path: readonly string[]) => boolean) | undefined
  /**
   * The source as a {@link SpanCachedSource}: neighbouring column chunks are then read in one I/O
   * each, the next run while the current one is transcoded, and page indexes and bloom filters
   * at once.
   */
  readonly cache?: SpanCachedSource | undefined
}

/** Page indexes and bloom filters held in memory at once: up to this many bytes. */
const MAX_HELD_EXTRAS = 64 * 1024 * 1024
/** Neighbouring column chunks read in one I/O: up to this many bytes, gaps up to RUN_GAP. */
const MAX_RUN = 8 * 1024 * 1024
const RUN_GAP = 64 * 1024

type Run = { readonly start: number; readonly end: number }

/** Consecutive chunks (in transcoding order) grouped into runs read at once; big ones alone. */
function chunkRuns(chunks: readonly PlannedChunk[]): Map<PlannedChunk, Run> {
  const runs = new Map<PlannedChunk, Run>()
  let members: PlannedChunk[] = []
  let start = 0
  let end = 0
  const close = () => {
    const run = { start, end }
    for (const m of members) runs.set(m, run)
    members = []
  }
  for (const p of chunks) {
    const { start: s, length } = p.range
    if (length > MAX_RUN) continue
    if (members.length > 0 && (s < end || s - end > RUN_GAP || s + length - start > MAX_RUN))
      close()
    if (members.length === 0) start = s
    members.push(p)
    end = s + length
  }
  if (members.length > 0) close()
  return runs
}

function malformed(message: string): never {
  throw new CryptoError('ERR_PARQUET_MALFORMED', message)
}

function unsupported(message: string): never {
  throw new CryptoError('ERR_PARQUET_UNSUPPORTED', message)
}

const FIRST_PEEK = 16 * 1024
const MAX_PAGE_HEADER = 64 * 1024 * 1024

/** Parse a plaintext Thrift struct whose length is only known once parsed. */
export async function readPlainPageHeader(
  reader: RangeReader,
): Promise<{ header: ThriftStruct; raw: Uint8Array }> {
  let want = Math.min(FIRST_PEEK, reader.remaining)
  // Most headers are already loaded with the page before them: no await then.
  const loaded = reader.peekLoaded(want)
  if (loaded !== undefined) {
    try {
      const { value, end } = decodeStruct(loaded)
      return { header: value, raw: reader.takeLoaded(end) as Uint8Array }
    } catch (error) {
      if (!isThriftEof(error)) throw error
    }
  }
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

type PlannedChunk = {
  ref: ChunkRef
  chunk: ThriftStruct
  meta: ThriftStruct
  range: { start: number; length: number }
  extras: Partial<Record<ExtraKind, ExtraLocation>>
  dataPages: { offset: number; size: number }[]
}

function location(
  s: ThriftStruct,
  offsetId: number,
  lengthId: number,
  what: string,
): ExtraLocation | undefined {
  const offset = optional(s, offsetId, 'i64', `${what} offset`)
  if (offset === undefined) return undefined
  const length = getField(s, lengthId)
  const n = length?.type === 'i32' ? length.value : undefined
  if (n !== undefined && n <= 0) return undefined
  return {
    offset: toOffset(offset.value, `${what} offset`),
    ...(n === undefined ? {} : { length: n }),
  }
}

async function plan(options: TranscodeOptions): Promise<{
  groups: { rowGroup: ThriftStruct; chunks: PlannedChunk[] }[]
  dropped: Map<number, string>
  skipped: Set<number>
}> {
  const { fileMetaData, dataEnd, from } = options
  const rowGroups = rowGroupsOf(fileMetaData)
  if (rowGroups.length > MAX_ORDINAL + 1)
    unsupported(`${rowGroups.length} row groups exceed ${MAX_ORDINAL + 1}`)
  const dropped = new Map<number, string>()
  // Left out by `columns`: decided by name, so alike in every row group.
  const skipped = new Set<number>()
  const skip = (g: number, c: number) => {
    if (g > 0 && !skipped.has(c)) malformed(`Column ${c} has different paths in row groups`)
    skipped.add(c)
  }
  const groups = []
  for (const [g, rowGroup] of rowGroups.entries()) {
    const ordinal = optional(rowGroup, ROW_GROUP.ordinal, 'i16', 'RowGroup.ordinal')?.value
    if (ordinal !== undefined && ordinal !== g) malformed(`Row group ${g} has ordinal ${ordinal}`)
    const chunks = columnChunksOf(rowGroup)
    if (chunks.length > MAX_ORDINAL + 1)
      unsupported(`${chunks.length} columns exceed ${MAX_ORDINAL + 1}`)
    const planned: PlannedChunk[] = []
    for (const [c, chunk] of chunks.entries()) {
      if (getField(chunk, COLUMN_CHUNK.filePath) !== undefined) {
        unsupported(`Column ${c} of row group ${g} keeps its data in another file`)
      }
      // A column under its own key names its path in the clear: skip it before its key is asked.
      const early = readColumnCryptoMetaData(chunk)
      if (
        options.columns !== undefined &&
        early?.kind === 'column-key' &&
        !options.columns(early.pathInSchema)
      ) {
        skip(g, c)
        continue
      }
      const meta = await from.columnMeta(chunk, { rowGroup: g, column: c })
      if (meta === undefined) {
        const crypto = readColumnCryptoMetaData(chunk)
        const path = crypto?.kind === 'column-key' ? crypto.pathInSchema.join('.') : '?'
        if (g > 0 && !dropped.has(c)) malformed(`Column ${c} is readable in one row group only`)
        dropped.set(c, path)
        continue
      }
      if (dropped.has(c)) malformed(`Column ${c} is readable in one row group only`)
      const path = (
        listOf(meta, COLUMN_META_DATA.pathInSchema, 'binary', 'path_in_schema') ?? []
      ).map(text)
      if (options.columns !== undefined && !options.columns(path)) {
        skip(g, c)
        continue
      }
      if (skipped.has(c)) malformed(`Column ${c} has different paths in row groups`)
      const range = chunkRange(meta)
      if (range.start < 4 || range.start + range.length > dataEnd) {
        malformed(`Column ${c} of row group ${g} lies outside the data region`)
      }
      const extras: PlannedChunk['extras'] = {}
      const bloom = location(
        meta,
        COLUMN_META_DATA.bloomFilterOffset,
        COLUMN_META_DATA.bloomFilterLength,
        'bloom filter',
      )
      const columnIndex = location(
        chunk,
        COLUMN_CHUNK.columnIndexOffset,
        COLUMN_CHUNK.columnIndexLength,
        'column index',
      )
      const offsetIndex = location(
        chunk,
        COLUMN_CHUNK.offsetIndexOffset,
        COLUMN_CHUNK.offsetIndexLength,
        'offset index',
      )
      for (const [kind, at] of [
        ['bloom-filter', bloom],
        ['column-index', columnIndex],
        ['offset-index', offsetIndex],
      ] as const) {
        if (at === undefined) continue
        if (at.offset < 4 || at.offset + (at.length ?? 1) > dataEnd) {
          malformed(`The ${kind} of column ${c} in row group ${g} lies outside the data region`)
        }
        extras[kind] = at
      }
      planned.push({
        ref: { rowGroup: g, column: c, path },
        chunk,
        meta,
        range,
        extras,
        dataPages: [],
      })
    }
    if (planned.length === 0 && skipped.size > 0 && chunks.length > 0) {
      if (dropped.size > 0)
        throw new CryptoError(
          'ERR_PARQUET_KEY_UNAVAILABLE',
          `No key for the columns to read: ${[...dropped.values()].join(', ')}`,
          { details: { columns: [...dropped.values()] } },
        )
      unsupported('The columns to write leave none of the file')
    }
    groups.push({ rowGroup, chunks: planned })
  }
  return { groups, dropped, skipped }
}

async function transcodeChunk(
  options: TranscodeOptions,
  p: PlannedChunk,
  pageDone: (reader: RangeReader) => void,
): Promise<void> {
  const { source, out, from, to } = options
  const { ref, meta, range } = p
  const reader = rangeReader(source, range.start, range.start + range.length)
  const start = out.position
  let ordinal = 0
  let dictionaryPageOffset: number | undefined
  let dataPageOffset: number | undefined
  const dictionaryLikely = getField(meta, COLUMN_META_DATA.dictionaryPageOffset) !== undefined
  while (reader.remaining > 0) {
    const pageRef: PageRef = {
      ...ref,
      ordinal,
      first: dictionaryPageOffset === undefined && dataPageOffset === undefined,
      dictionaryLikely,
    }
    const page = await from.readPage(pageRef, reader)
    const info = readPageHeader(page.header)
    if (
      !page.dictionary &&
      info.type !== PAGE_TYPE.DATA_PAGE &&
      info.type !== PAGE_TYPE.DATA_PAGE_V2
    ) {
      unsupported(`Page type ${info.type} is not supported`)
    }
    if (page.dictionary !== (info.type === PAGE_TYPE.DICTIONARY_PAGE)) {
      malformed(
        `Page ${ordinal} in column ${ref.column} of row group ${ref.rowGroup} has a header of the wrong kind`,
      )
    }
    if (page.dictionary && !pageRef.first) {
      malformed(
        `Column ${ref.column} of row group ${ref.rowGroup}: a dictionary page must come first`,
      )
    }
    if (!page.dictionary && ordinal > MAX_ORDINAL) {
      unsupported(
        `Column ${ref.column} of row group ${ref.rowGroup} has more than ${MAX_ORDINAL + 1} pages`,
      )
    }
    const at = out.position
    await to.writePage(pageRef, page, out)
    if (page.dictionary) dictionaryPageOffset = at
    else {
      dataPageOffset ??= at
      p.dataPages.push({ offset: at, size: out.position - at })
      ordinal++
    }
    pageDone(reader)
  }
  if (dataPageOffset === undefined) {
    malformed(`Column ${ref.column} of row group ${ref.rowGroup} has no data page`)
  }
  setField(meta, COLUMN_META_DATA.dataPageOffset, i64(dataPageOffset))
  if (dictionaryPageOffset === undefined) removeField(meta, COLUMN_META_DATA.dictionaryPageOffset)
  else setField(meta, COLUMN_META_DATA.dictionaryPageOffset, i64(dictionaryPageOffset))
  removeField(meta, COLUMN_META_DATA.indexPageOffset)
  setField(meta, COLUMN_META_DATA.totalCompressedSize, i64(out.position - start))
  const fileOffset = optional(p.chunk, COLUMN_CHUNK.fileOffset, 'i64', 'file_offset')
  if (fileOffset !== undefined) {
    // Deprecated; writers disagree on what it points at. Keep its meaning where it is clear.
    const old = toOffset(fileOffset.value, 'file_offset')
    const mapped = old === 0 ? 0 : old === range.start + range.length ? out.position : start
    setField(p.chunk, COLUMN_CHUNK.fileOffset, i64(mapped))
  }
}

/** Page indexes and bloom filters, after the row groups: bloom filters, column, offset indexes. */
async function transcodeExtras(options: TranscodeOptions, chunks: PlannedChunk[]): Promise<void> {
  let first = Number.POSITIVE_INFINITY
  let last = 0
  for (const p of chunks)
    for (const at of Object.values(p.extras)) {
      first = Math.min(first, at.offset)
      last = Math.max(last, at.offset + (at.length ?? 0))
    }
  const span = last > first && last - first <= MAX_HELD_EXTRAS
  if (span) await options.cache?.hold(first, Math.min(last, options.dataEnd))
  try {
    await copyExtras(options, chunks)
  } finally {
    if (span) await options.cache?.hold(0, 0)
  }
}

async function copyExtras(options: TranscodeOptions, chunks: PlannedChunk[]): Promise<void> {
  const { out, from, to } = options
  for (const p of chunks) {
    removeField(p.meta, COLUMN_META_DATA.bloomFilterOffset)
    removeField(p.meta, COLUMN_META_DATA.bloomFilterLength)
    const at = p.extras['bloom-filter']
    if (at === undefined || options.bloomFilters === 'drop') continue
    const filter = await from.readBloomFilter(p.ref, at)
    const start = out.position
    await to.writeBloomFilter(p.ref, filter, out)
    setField(p.meta, COLUMN_META_DATA.bloomFilterOffset, i64(start))
    setField(p.meta, COLUMN_META_DATA.bloomFilterLength, i32(out.position - start))
  }
  for (const [kind, offsetId, lengthId] of [
    ['column-index', COLUMN_CHUNK.columnIndexOffset, COLUMN_CHUNK.columnIndexLength],
    ['offset-index', COLUMN_CHUNK.offsetIndexOffset, COLUMN_CHUNK.offsetIndexLength],
  ] as const) {
    for (const p of chunks) {
      removeField(p.chunk, offsetId)
      removeField(p.chunk, lengthId)
      const at = p.extras[kind]
      if (at === undefined) continue
      let index = await from.readIndex(kind, p.ref, at)
      if (kind === 'offset-index') index = remapOffsetIndex(index, p.dataPages, p.ref)
      const start = out.position
      await to.writeIndex(kind, p.ref, index, out)
      setField(p.chunk, offsetId, i64(start))
      setField(p.chunk, lengthId, i32(out.position - start))
    }
  }
}

/**
 * Rewrite the whole file: magic, every column chunk page by page, page indexes and bloom
 * filters, the footer, its length and the magic. Everything is validated before a byte is
 * written where it can be (the plan reads every chunk's metadata first).
 */
export async function transcodeFile(options: TranscodeOptions): Promise<ParquetTranscodeStats> {
  const { source, out, fileMetaData, onProgress, to } = options
  const { groups, dropped, skipped } = await plan(options)
  await out.write(to.magic)
  const total = source.size
  let done = 0
  let pages = 0
  const all: PlannedChunk[] = []
  const order = groups.flatMap((g) => g.chunks)
  const runs = options.cache === undefined ? new Map<PlannedChunk, Run>() : chunkRuns(order)
  const runList = [...new Set(runs.values())]
  const runIndex = new Map(runList.map((r, i) => [r, i]))
  let heldRun: Run | undefined
  for (const [g, { rowGroup, chunks }] of groups.entries()) {
    const groupStart = out.position
    for (const p of chunks) {
      const run = runs.get(p)
      if (run !== undefined && run !== heldRun && options.cache !== undefined) {
        await options.cache.hold(run.start, run.end)
        heldRun = run
        // Start reading the next run now: its I/O overlaps this run's decryption.
        const following = runList[(runIndex.get(run) ?? runList.length) + 1]
        if (following !== undefined) options.cache.prefetch(following.start, following.end)
      }
      await transcodeChunk(options, p, (reader) => {
        pages++
        onProgress?.(Math.min(total, done + reader.position - p.range.start), total)
      })
      done += p.range.length
      all.push(p)
    }
    if (chunks.length > 0) {
      setField(rowGroup, ROW_GROUP.fileOffset, i64(groupStart))
      setField(rowGroup, ROW_GROUP.totalCompressedSize, i64(out.position - groupStart))
    }
    setField(rowGroup, ROW_GROUP.ordinal, i16(g))
  }
  await options.cache?.hold(0, 0)
  await transcodeExtras(options, all)
  for (const p of all) to.finishChunk(p.ref, p.chunk, p.meta)
  if (dropped.size + skipped.size > 0) dropColumns(fileMetaData, [...dropped.keys(), ...skipped])
  const footer = to.footer(fileMetaData)
  const length = new Uint8Array(4)
  new DataView(length.buffer).setUint32(0, footer.length, true)
  await out.write(footer)
  await out.write(length)
  await out.write(to.magic)
  await out.flush()
  onProgress?.(total, total)
  const written = out.position
  return {
    rows: numRows(fileMetaData),
    rowGroups: rowGroupsOf(fileMetaData).length,
    columns: schemaColumns(fileMetaData).length,
    pages,
    plaintextBytes: options.direction === 'encrypt' ? total : written,
    encryptedBytes: options.direction === 'decrypt' ? total : written,
    droppedColumns: [...dropped.values()],
  }
}
