// Seeded fuzzing of the PME reader: 50,000 mutated encrypted files (bit flips, truncations,
// insertions, deletions, forged length prefixes, splices between files) in every mode. Each one
// decrypts or fails with a typed error; none crashes or hangs.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { isSubrosaError } from '@subrosa/core'
import { fileBytes, openTestDuckDb, sqlPath, tempDir } from '../../test/helpers.ts'
import { bytesSource, memorySink } from './byte-io.ts'
import { decryptParquet } from './decrypt-parquet.ts'
import { encryptParquet, type ParquetEncryptOptions } from './encrypt-parquet.ts'
import { inspectParquet } from './inspect.ts'

const CASES = 50_000
const footerKey = new Uint8Array(32).fill(7)
const columnKey = new Uint8Array(16).fill(9)
const aadPrefix = new TextEncoder().encode('fuzz')

/** mulberry32: a small seeded PRNG, so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function mutate(file: Uint8Array, other: Uint8Array, rand: () => number): Uint8Array {
  const at = (n: number) => Math.floor(rand() * n)
  switch (at(7)) {
    case 0: {
      const copy = file.slice()
      for (let i = 0, n = 1 + at(8); i < n; i++) {
        const where = at(copy.length)
        copy[where] = (copy[where] as number) ^ (1 << at(8))
      }
      return copy
    }
    case 1:
      return file.slice(0, at(file.length))
    case 2: {
      const cut = at(file.length)
      const extra = Uint8Array.from({ length: 1 + at(16) }, () => at(256))
      return new Uint8Array([...file.subarray(0, cut), ...extra, ...file.subarray(cut)])
    }
    case 3: {
      const cut = at(file.length)
      return new Uint8Array([...file.subarray(0, cut), ...file.subarray(cut + 1 + at(16))])
    }
    case 4: {
      // A forged 4-byte length somewhere (module prefixes are little-endian u32).
      const copy = file.slice()
      const where = at(Math.max(1, copy.length - 4))
      new DataView(copy.buffer).setUint32(
        where,
        [0, 1, 27, 0x7fffffff, 0xffffffff, at(1 << 20)][at(6)] as number,
        true,
      )
      return copy
    }
    case 5: {
      // A span of another file pasted at the same place.
      const copy = file.slice()
      const start = at(Math.min(copy.length, other.length))
      const length = Math.min(1 + at(4096), copy.length - start, other.length - start)
      copy.set(other.subarray(start, start + length), start)
      return copy
    }
    default: {
      // The footer length or the magic.
      const copy = file.slice()
      copy[copy.length - 1 - at(8)] = at(256)
      return copy
    }
  }
}

describe('PME reader fuzzing', () => {
  const dir = tempDir()
  const corpus: Uint8Array[] = []
  before(async () => {
    const db = await openTestDuckDb()
    const path = dir.file('plain.parquet')
    await db.run(
      `COPY (SELECT i AS id, 'c' || (i % 3) AS city, i * 0.5 AS amount, [i, i] AS pair FROM range(300) t(i)) TO ${sqlPath(path)} (FORMAT parquet, ROW_GROUP_SIZE 100)`,
    )
    db.close()
    const plain = fileBytes(path)
    const modes: Omit<ParquetEncryptOptions, 'footerKey'>[] = [
      {},
      { algorithm: 'AES_GCM_CTR_V1', columnKeys: { city: { key: columnKey } } },
      { plaintextFooter: true, columnKeys: { amount: { key: columnKey } }, aadPrefix },
      {
        aadPrefix,
        storeAadPrefix: false,
        columnKeys: { 'pair.list.element': { key: columnKey } },
        otherColumns: 'footer-key',
      },
    ]
    for (const mode of modes) {
      const sink = memorySink()
      await encryptParquet(bytesSource(plain), sink, { footerKey, ...mode })
      corpus.push(sink.bytes())
    }
  })
  after(() => dir.cleanup())

  it(`${CASES} mutated files: typed errors only, no crash, no hang`, {
    timeout: 600_000,
  }, async () => {
    const rand = prng(20261201)
    const outcomes = new Map<string, number>()
    let slowest = 0
    for (let i = 0; i < CASES; i++) {
      const file = corpus[i % corpus.length] as Uint8Array
      const input = mutate(file, corpus[(i + 1) % corpus.length] as Uint8Array, rand)
      const started = performance.now()
      let outcome = 'ok'
      try {
        if (i % 10 === 0) await inspectParquet(bytesSource(input))
        else {
          await decryptParquet(bytesSource(input), memorySink(), {
            keyRetriever: (_m, target) => (target.kind === 'footer' ? footerKey : columnKey),
            ...(i % corpus.length >= 2 ? { aadPrefix } : {}),
          })
        }
      } catch (error) {
        if (!isSubrosaError(error)) {
          throw new Error(`case ${i}: not a typed error: ${String(error)}`, { cause: error })
        }
        outcome = error.code
      }
      slowest = Math.max(slowest, performance.now() - started)
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1)
    }
    assert.ok(slowest < 5_000, `slowest case took ${slowest} ms`)
    // The mutations reach past the first check: authentication and structure errors both occur.
    for (const code of [
      'ERR_PARQUET_MODULE_AUTH',
      'ERR_PARQUET_FOOTER_AUTH',
      'ERR_PARQUET_MALFORMED',
      'ERR_PARQUET_TRUNCATED',
    ]) {
      assert.ok(
        (outcomes.get(code) ?? 0) > 0,
        `${code} never happened: ${JSON.stringify([...outcomes])}`,
      )
    }
  })
})
