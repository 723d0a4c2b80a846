// A flipped byte in any module of a file with every module type (pages, dictionary pages, page
// headers, column and offset indexes, bloom filter headers and bitsets, column metadata, footer)
// fails with a code, and authentication failures name the module. The file is parquet-testing's
// bloom-filter vector decrypted (it has page indexes and bloom filters) and encrypted again with
// a column key and the footer key.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { isSubrosaError } from '@subrosa/core'
import {
  fileBytes,
  haveVectors,
  openTestDuckDb,
  readVector,
  sqlPath,
  tempDir,
  VECTOR_KEYS,
  vectorKey,
} from '../../test/helpers.ts'
import { bytesSource, memorySink } from './byte-io.ts'
import { decryptParquet } from './decrypt-parquet.ts'
import { encryptParquet } from './encrypt-parquet.ts'

const FILE = 'encrypt_columns_and_footer_bloom_filter.parquet.encrypted'
const footerKey = new Uint8Array(randomBytes(32))
const columnKey = new Uint8Array(randomBytes(16))
const keyRetriever = (_m: Uint8Array | undefined, target: { kind: string }) =>
  target.kind === 'footer' ? footerKey : columnKey

describe('tampering with every module type', () => {
  let encrypted: Uint8Array | undefined

  before(async () => {
    if (!haveVectorsQuiet()) return
    const plain = memorySink()
    await decryptParquet(bytesSource(readVector(FILE)), plain, {
      keyRetriever: (m) => vectorKey(new TextDecoder().decode(m), false) ?? VECTOR_KEYS.footer128,
    })
    const sink = memorySink()
    await encryptParquet(bytesSource(plain.bytes()), sink, {
      footerKey,
      columnKeys: { double_field: { key: columnKey } },
      otherColumns: 'footer-key',
      bloomFilters: 'keep',
    })
    encrypted = sink.bytes()
  })

  it('names the module in every authentication failure, and never succeeds altered', async (t) => {
    if (!haveVectors(t) || encrypted === undefined) return
    const file = encrypted
    const seen = new Map<string, number>()
    const codes = new Set<string>()
    // Every 3rd byte of the file, both footer and data: thousands of single-byte flips.
    for (let at = 4; at < file.length - 8; at += 3) {
      const copy = file.slice()
      copy[at] = (copy[at] as number) ^ 0x10
      try {
        await decryptParquet(bytesSource(copy), memorySink(), { keyRetriever })
        assert.fail(`a flip at ${at} went unnoticed`)
      } catch (error) {
        if (!isSubrosaError(error)) throw error
        codes.add(error.code)
        if (error.code === 'ERR_PARQUET_MODULE_AUTH') {
          const module = String(error.details?.module)
          seen.set(module, (seen.get(module) ?? 0) + 1)
        }
      }
    }
    assert.deepEqual([...seen.keys()].sort(), [
      'bloom filter bitset',
      'bloom filter header',
      'column index',
      'data page',
      'offset index',
      'page header',
    ])
    for (const code of codes) {
      assert.ok(
        [
          'ERR_PARQUET_MODULE_AUTH',
          'ERR_PARQUET_FOOTER_AUTH',
          'ERR_PARQUET_MALFORMED',
          'ERR_PARQUET_TRUNCATED',
        ].includes(code),
        code,
      )
    }
    assert.ok(codes.has('ERR_PARQUET_FOOTER_AUTH'))
  })

  it('names dictionary pages and their headers (a DuckDB file with dictionary encoding)', async () => {
    const db = await openTestDuckDb()
    const dir = tempDir()
    try {
      const path = dir.file('dict.parquet')
      await db.run(
        `COPY (SELECT 'city_' || (i % 5) AS city FROM range(3000) t(i)) TO ${sqlPath(path)} (FORMAT parquet)`,
      )
      const sink = memorySink()
      await encryptParquet(bytesSource(fileBytes(path)), sink, { footerKey })
      const file = sink.bytes()
      const seen = new Set<string>()
      for (let at = 4; at < file.length - 8; at++) {
        const copy = file.slice()
        copy[at] = (copy[at] as number) ^ 0x01
        const error = await decryptParquet(bytesSource(copy), memorySink(), { keyRetriever }).then(
          () => assert.fail(`a flip at ${at} went unnoticed`),
          (e: unknown) => e,
        )
        if (isSubrosaError(error) && error.code === 'ERR_PARQUET_MODULE_AUTH') {
          seen.add(String(error.details?.module))
        }
      }
      assert.deepEqual([...seen].sort(), ['data page', 'dictionary page', 'page header'])
    } finally {
      db.close()
      dir.cleanup()
    }
  })

  it('fails on a wrong AAD prefix, and on a page swapped in from another file', async (t) => {
    if (!haveVectors(t) || encrypted === undefined) return
    const prefix = new TextEncoder().encode('table=a')
    const plain = memorySink()
    await decryptParquet(bytesSource(encrypted), plain, { keyRetriever })
    const write = async (aadFileUnique: Uint8Array) => {
      const sink = memorySink()
      await encryptParquet(bytesSource(plain.bytes()), sink, {
        footerKey,
        aadPrefix: prefix,
        storeAadPrefix: false,
        aadFileUnique,
      })
      return sink.bytes()
    }
    const a = await write(new Uint8Array(8).fill(1))
    const b = await write(new Uint8Array(8).fill(2))
    await assert.rejects(
      decryptParquet(bytesSource(a), memorySink(), {
        keyRetriever,
        aadPrefix: new TextEncoder().encode('table=b'),
      }),
      { code: 'ERR_PARQUET_FOOTER_AUTH' },
    )
    // Same key, same layout, other aad_file_unique: a's first page module pasted over b's.
    const view = new DataView(a.buffer, a.byteOffset)
    const headerEnd = 4 + 4 + view.getUint32(4, true)
    const pageEnd = headerEnd + 4 + view.getUint32(headerEnd, true)
    const mixed = b.slice()
    mixed.set(a.subarray(headerEnd, pageEnd), headerEnd)
    await assert.rejects(
      decryptParquet(bytesSource(mixed), memorySink(), { keyRetriever, aadPrefix: prefix }),
      (e: Error & { code?: string; details?: Record<string, unknown> }) =>
        e.code === 'ERR_PARQUET_MODULE_AUTH' && /page/.test(String(e.details?.module)),
    )
  })
})

function haveVectorsQuiet(): boolean {
  try {
    readVector(FILE)
    return true
  } catch {
    return false
  }
}
