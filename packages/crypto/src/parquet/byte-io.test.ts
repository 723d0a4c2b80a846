import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { syntheticParquet } from '../../test/synthetic-parquet.ts'
import { bytesSource, memorySink, outputWriter, rangeReader, readExact } from './byte-io.ts'
import { inspectParquet, readParquetFooter } from './inspect.ts'

const data = new Uint8Array(3 * (1 << 20) + 5).map((_, i) => i % 251)

describe('byte I/O', () => {
  it('reads a range sequentially through a bounded window', async () => {
    let largest = 0
    const inner = bytesSource(data)
    const source = {
      size: inner.size,
      read: (o: number, l: number) => {
        largest = Math.max(largest, l)
        return inner.read(o, l)
      },
    }
    const reader = rangeReader(source, 10, data.length - 3)
    assert.deepEqual((await reader.peek(3)).subarray(0, 3), data.subarray(10, 13))
    const parts: Uint8Array[] = []
    while (reader.remaining > 0) parts.push(await reader.take(Math.min(reader.remaining, 300_001)))
    assert.equal(reader.position, data.length - 3)
    assert.deepEqual(Buffer.concat(parts), Buffer.from(data.subarray(10, data.length - 3)))
    assert.equal(largest <= 1 << 20, true)
    await assert.rejects(reader.take(1), { code: 'ERR_PARQUET_MALFORMED' })
  })

  it('reports reads past the end as truncation', async () => {
    await assert.rejects(readExact(bytesSource(data), data.length - 2, 3), {
      code: 'ERR_PARQUET_TRUNCATED',
    })
    assert.equal((await readExact(bytesSource(data), 5, 0)).length, 0)
  })

  it('buffers small writes and passes large ones through', async () => {
    const sink = memorySink()
    const out = outputWriter(sink)
    await out.write(data.subarray(0, 10))
    await out.write(data.subarray(10, (1 << 20) + 20))
    await out.write(data.subarray((1 << 20) + 20, (1 << 20) + 30))
    assert.equal(out.position, (1 << 20) + 30)
    assert.equal(sink.size, (1 << 20) + 20)
    await out.flush()
    assert.deepEqual(sink.bytes(), data.subarray(0, (1 << 20) + 30))
  })

  it('inspects and reads the footer of a plaintext file without a key', async () => {
    const plain = syntheticParquet([[[1, 2]], [[3]]])
    const info = await inspectParquet(bytesSource(plain))
    assert.deepEqual(
      { ...info, footerLength: undefined },
      {
        fileSize: plain.length,
        magic: 'PAR1',
        footerLength: undefined,
        encrypted: false,
        footer: 'plaintext',
        numRows: 3,
        rowGroups: 2,
        columns: [{ path: ['x'], physicalType: 'INT32' }],
        createdBy: 'subrosa synthetic test file',
      },
    )
    const footer = await readParquetFooter(bytesSource(plain), {
      keyRetriever: () => assert.fail('no key needed'),
    })
    assert.equal(footer.encrypted, false)
    assert.equal(footer.numRows, 3)
    await assert.rejects(inspectParquet(bytesSource(new Uint8Array(5))), {
      code: 'ERR_PARQUET_TRUNCATED',
    })
    await assert.rejects(inspectParquet(bytesSource(new Uint8Array(100))), {
      code: 'ERR_PARQUET_MALFORMED',
    })
  })
})
