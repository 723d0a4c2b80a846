// Builds small plaintext Parquet files by hand (one required INT32 column `x`, PLAIN,
// uncompressed), with as many row groups and data pages as a test needs. DuckDB writes one page
// per column chunk, so tests that need several pages per chunk use this.
import { concatBytes, utf8 } from '@subrosa/core'
import {
  binary,
  encodeStruct,
  i32,
  i64,
  struct,
  type ThriftValue,
} from '../src/parquet/thrift-compact.ts'

const list = (elementType: 'i32' | 'binary' | 'struct', value: ThriftValue[]): ThriftValue => ({
  type: 'list',
  elementType,
  value,
})

/** RowGroup of one INT32 column chunk `x` at `start`, `size` bytes, `rows` values. */
function rowGroup(start: number, size: number, rows: number): ThriftValue {
  const meta = struct(
    [1, i32(1)], // INT32
    [2, list('i32', [i32(0)])],
    [3, list('binary', [binary(utf8('x'))])],
    [4, i32(0)], // UNCOMPRESSED
    [5, i64(rows)],
    [6, i64(size)],
    [7, i64(size)],
    [9, i64(start)],
  )
  return struct(
    [1, list('struct', [struct([2, i64(0)], [3, meta])])],
    [2, i64(size)],
    [3, i64(rows)],
  )
}

/** FileMetaData of the one-column schema, serialized. */
function footerOf(rows: number, groups: ThriftValue[]): Uint8Array {
  return encodeStruct({
    fields: [
      { id: 1, value: i32(1) },
      {
        id: 2,
        value: list('struct', [
          struct([4, binary(utf8('schema'))], [5, i32(1)]),
          struct([1, i32(1)], [3, i32(0)], [4, binary(utf8('x'))]),
        ]),
      },
      { id: 3, value: i64(rows) },
      { id: 4, value: list('struct', groups) },
      { id: 6, value: binary(utf8('subrosa synthetic test file')) },
    ],
  })
}

/** `rowGroups[g][p]` are the values of data page `p` in row group `g`. */
export function syntheticParquet(rowGroups: number[][][]): Uint8Array {
  const parts: Uint8Array[] = [utf8('PAR1')]
  let offset = 4
  let totalRows = 0
  const groups: ThriftValue[] = []
  for (const pages of rowGroups) {
    const start = offset
    let rows = 0
    for (const values of pages) {
      const data = new Uint8Array(values.length * 4)
      const view = new DataView(data.buffer)
      for (const [i, v] of values.entries()) view.setInt32(i * 4, v, true)
      const header = encodeStruct({
        fields: [
          { id: 1, value: i32(0) }, // DATA_PAGE
          { id: 2, value: i32(data.length) },
          { id: 3, value: i32(data.length) },
          { id: 5, value: struct([1, i32(values.length)], [2, i32(0)], [3, i32(3)], [4, i32(3)]) },
        ],
      })
      parts.push(header, data)
      offset += header.length + data.length
      rows += values.length
    }
    groups.push(rowGroup(start, offset - start, rows))
    totalRows += rows
  }
  const footer = footerOf(totalRows, groups)
  const length = new Uint8Array(4)
  new DataView(length.buffer).setUint32(0, footer.length, true)
  parts.push(footer, length, utf8('PAR1'))
  return concatBytes(...parts)
}

/**
 * A plaintext Parquet file of about `totalBytes` that exists only as a {@link ByteSource}: one
 * required INT32 column, `pageBytes` per data page, `pagesPerGroup` pages per row group. Pages
 * hold a fixed pattern; nothing but the footer is kept in memory, so it tests streaming.
 */
export function syntheticLargeSource(
  totalBytes: number,
  pageBytes = 1 << 20,
  pagesPerGroup = 64,
): { size: number; pages: number; read(offset: number, length: number): Promise<Uint8Array> } {
  const values = pageBytes / 4
  const header = encodeStruct({
    fields: [
      { id: 1, value: i32(0) },
      { id: 2, value: i32(pageBytes) },
      { id: 3, value: i32(pageBytes) },
      { id: 5, value: struct([1, i32(values)], [2, i32(0)], [3, i32(3)], [4, i32(3)]) },
    ],
  })
  const pageSpan = header.length + pageBytes
  const pages = Math.max(1, Math.floor(totalBytes / pageSpan))
  const groups: ThriftValue[] = []
  for (let first = 0; first < pages; first += pagesPerGroup) {
    const count = Math.min(pagesPerGroup, pages - first)
    const start = 4 + first * pageSpan
    const size = count * pageSpan
    groups.push(rowGroup(start, size, count * values))
  }
  const footer = footerOf(pages * values, groups)
  const tail = new Uint8Array(footer.length + 8)
  tail.set(footer)
  new DataView(tail.buffer).setUint32(footer.length, footer.length, true)
  tail.set(utf8('PAR1'), footer.length + 4)
  const dataEnd = 4 + pages * pageSpan
  const size = dataEnd + tail.length
  const pattern = new Uint8Array(pageBytes).map((_, i) => (i * 31) & 0xff)
  return {
    size,
    pages,
    async read(offset, length) {
      const out = new Uint8Array(length)
      for (let at = offset; at < offset + length; ) {
        let chunk: Uint8Array
        let from: number
        if (at < 4) {
          chunk = utf8('PAR1')
          from = at
        } else if (at >= dataEnd) {
          chunk = tail
          from = at - dataEnd
        } else {
          const inPage = (at - 4) % pageSpan
          chunk = inPage < header.length ? header : pattern
          from = inPage < header.length ? inPage : inPage - header.length
        }
        const n = Math.min(chunk.length - from, offset + length - at)
        out.set(chunk.subarray(from, from + n), at - offset)
        at += n
      }
      return out
    },
  }
}
