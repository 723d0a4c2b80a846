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
    const size = offset - start
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
    groups.push(
      struct([1, list('struct', [struct([2, i64(0)], [3, meta])])], [2, i64(size)], [3, i64(rows)]),
    )
    totalRows += rows
  }
  const footer = encodeStruct({
    fields: [
      { id: 1, value: i32(1) },
      {
        id: 2,
        value: list('struct', [
          struct([4, binary(utf8('schema'))], [5, i32(1)]),
          struct([1, i32(1)], [3, i32(0)], [4, binary(utf8('x'))]),
        ]),
      },
      { id: 3, value: i64(totalRows) },
      { id: 4, value: list('struct', groups) },
      { id: 6, value: binary(utf8('subrosa synthetic test file')) },
    ],
  })
  const length = new Uint8Array(4)
  new DataView(length.buffer).setUint32(0, footer.length, true)
  parts.push(footer, length, utf8('PAR1'))
  return concatBytes(...parts)
}
