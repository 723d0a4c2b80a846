// Every kind of damage to an encrypted file ends in a typed error, never a crash or a silently
// different result.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { isSubrosaError, toHex } from '@subrosa/core'
import { fileBytes, openTestDuckDb, sqlPath, tempDir } from '../../test/helpers.ts'
import { syntheticParquet } from '../../test/synthetic-parquet.ts'
import { CryptoError } from '../errors.ts'
import { createInMemoryKms } from '../kms.ts'
import { type ByteSource, bytesSource, memorySink } from './byte-io.ts'
import { decryptParquet } from './decrypt-parquet.ts'
import { encryptParquet } from './encrypt-parquet.ts'
import { decryptParquetWithKms, encryptParquetWithKms } from './kms-parquet.ts'
import { decodeStruct } from './thrift-compact.ts'

const key = new Uint8Array(randomBytes(16))

/** Byte layout of an encrypted file: module spans in file order. */
type Span = { start: number; end: number }
function modules(file: Uint8Array, dataEnd: number): Span[] {
  const spans: Span[] = []
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  for (let at = 4; at < dataEnd; ) {
    const end = at + 4 + view.getUint32(at, true)
    spans.push({ start: at, end })
    at = end
  }
  return spans
}

function layout(file: Uint8Array) {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  const footerLength = view.getUint32(file.length - 8, true)
  const footerStart = file.length - 8 - footerLength
  const cryptoEnd = decodeStruct(file, footerStart).end
  const spans = modules(file, footerStart)
  // Alternating header, page for every page of every chunk.
  const pages = spans.filter((_, i) => i % 2 === 1)
  const headers = spans.filter((_, i) => i % 2 === 0)
  return {
    footerStart,
    cryptoEnd,
    footerModule: { start: cryptoEnd, end: file.length - 8 },
    pages,
    headers,
  }
}

const flip = (file: Uint8Array, at: number, bit = 0x04) => {
  const copy = file.slice()
  copy[at] = (copy[at] as number) ^ bit
  return copy
}

function swap(file: Uint8Array, a: Span, b: Span): Uint8Array {
  assert.ok(a.end <= b.start)
  const copy = file.slice()
  const first = file.subarray(a.start, a.end)
  const between = file.subarray(a.end, b.start)
  const second = file.subarray(b.start, b.end)
  copy.set(second, a.start)
  copy.set(between, a.start + second.length)
  copy.set(first, a.start + second.length + between.length)
  return copy
}

const decrypt = (bytes: Uint8Array, k = key) =>
  decryptParquet(bytesSource(bytes), memorySink(), { keyRetriever: () => k })

describe('tampering with an encrypted file', () => {
  const dir = tempDir()
  let duck: Uint8Array
  let synthetic: Uint8Array
  let plainOfSynthetic: Uint8Array

  before(async () => {
    const db = await openTestDuckDb()
    const path = dir.file('plain.parquet')
    await db.run(
      `COPY (SELECT i::INTEGER AS id, 'c' || (i % 5) AS c, md5(i::VARCHAR) AS h FROM range(20000) t(i))
       TO ${sqlPath(path)} (FORMAT parquet, ROW_GROUP_SIZE 4096)`,
    )
    db.close()
    const sink = memorySink()
    await encryptParquet(bytesSource(fileBytes(path)), sink, {
      footerKey: key,
      footerKeyMetadata: new Uint8Array(0),
    })
    duck = sink.bytes()
    const s = memorySink()
    await encryptParquet(
      bytesSource(
        syntheticParquet([
          [
            [1, 2, 3],
            [4, 5, 6],
            [7, 8, 9],
          ],
          [[10, 11, 12]],
        ]),
      ),
      s,
      {
        footerKey: key,
        footerKeyMetadata: new Uint8Array(0),
      },
    )
    synthetic = s.bytes()
    const back = memorySink()
    await decryptParquet(bytesSource(synthetic), back, { keyRetriever: () => key })
    plainOfSynthetic = back.bytes()
  })
  after(() => dir.cleanup())

  it('a flipped bit in a page fails ERR_PARQUET_MODULE_AUTH naming the page', async () => {
    const { pages } = layout(duck)
    const page = pages[3] as Span
    await assert.rejects(
      decrypt(flip(duck, Math.floor((page.start + 4 + page.end) / 2))),
      (e: unknown) => {
        assert.ok(e instanceof CryptoError)
        assert.equal(e.code, 'ERR_PARQUET_MODULE_AUTH')
        assert.equal(typeof e.details?.rowGroup, 'number')
        assert.equal(typeof e.details?.column, 'number')
        assert.match(String(e.details?.module), /page$/)
        assert.equal(`${e.message}${JSON.stringify(e.toJSON())}`.includes(toHex(key)), false)
        return true
      },
    )
  })

  it('a flipped bit in a page header fails ERR_PARQUET_MODULE_AUTH', async () => {
    const { headers } = layout(duck)
    for (const header of headers.slice(0, 6)) {
      await assert.rejects(decrypt(flip(duck, header.end - 3)), { code: 'ERR_PARQUET_MODULE_AUTH' })
      await assert.rejects(decrypt(flip(duck, header.start + 4)), {
        code: 'ERR_PARQUET_MODULE_AUTH',
      })
    }
  })

  it('a flipped bit in the footer fails ERR_PARQUET_FOOTER_AUTH', async () => {
    const { footerModule } = layout(duck)
    for (const at of [footerModule.start + 4, footerModule.start + 20, footerModule.end - 1]) {
      await assert.rejects(decrypt(flip(duck, at)), { code: 'ERR_PARQUET_FOOTER_AUTH' })
    }
  })

  it('a flipped bit in FileCryptoMetaData fails with a typed error or changes nothing', async () => {
    const master = new Uint8Array(randomBytes(32))
    const kms = createInMemoryKms({ 'subrosa:demo/taxi': master })
    const sink = memorySink()
    await encryptParquetWithKms(bytesSource(syntheticParquet([[[1, 2], [3]]])), sink, {
      masterKeyId: 'subrosa:demo/taxi',
      kms,
      kmsInstanceId: 'subrosa',
      kmsInstanceUrl: 'https://127.0.0.1:8443',
    })
    const file = sink.bytes()
    const reference = memorySink()
    await decryptParquetWithKms(bytesSource(file), reference, { kms })
    const { footerStart, cryptoEnd } = layout(file)
    // aad_file_unique sits right after the 4 union/struct header bytes and its length byte.
    await assert.rejects(
      decryptParquetWithKms(bytesSource(flip(file, footerStart + 5)), memorySink(), { kms }),
      {
        code: 'ERR_PARQUET_FOOTER_AUTH',
      },
    )
    const codes = new Set<string>()
    for (let at = footerStart; at < cryptoEnd; at++) {
      for (const bit of [0x01, 0x80]) {
        const out = memorySink()
        try {
          await decryptParquetWithKms(bytesSource(flip(file, at, bit)), out, { kms })
          // Only fields that do not select the key may change (e.g. kmsInstanceURL): the
          // result must then be exactly the same plaintext.
          assert.deepEqual(out.bytes(), reference.bytes())
          codes.add('unchanged')
        } catch (error) {
          assert.ok(isSubrosaError(error), String(error))
          codes.add(error.code)
        }
      }
    }
    assert.ok(codes.has('ERR_PARQUET_FOOTER_AUTH'))
    assert.ok(codes.has('ERR_PARQUET_KEY_MATERIAL') || codes.has('ERR_CRYPTO_AUTH'))
  })

  it('a truncated file fails ERR_PARQUET_TRUNCATED at every cut point', async () => {
    const cuts = [
      0,
      3,
      4,
      11,
      12,
      100,
      Math.floor(duck.length / 2),
      duck.length - 9,
      duck.length - 8,
      duck.length - 5,
      duck.length - 1,
    ]
    for (const cut of cuts) {
      await assert.rejects(
        decrypt(duck.subarray(0, cut)),
        { code: 'ERR_PARQUET_TRUNCATED' },
        `cut at ${cut}`,
      )
    }
    // A source that returns fewer bytes than asked is a truncation too.
    const short: ByteSource = {
      size: duck.length,
      read: async (o, l) => duck.subarray(o, o + Math.max(0, l - 1)),
    }
    await assert.rejects(decryptParquet(short, memorySink(), { keyRetriever: () => key }), {
      code: 'ERR_PARQUET_TRUNCATED',
    })
  })

  it('two pages swapped within a column chunk fail ERR_PARQUET_MODULE_AUTH', async () => {
    const { pages, headers } = layout(synthetic)
    // Pages 0 and 1 of the first chunk hold 3 values each: same sizes, so only the AAD differs.
    const [h0, h1] = headers as [Span, Span]
    const [p0, p1] = pages as [Span, Span]
    assert.equal(p0.end - p0.start, p1.end - p1.start)
    await assert.rejects(decrypt(swap(synthetic, p0, p1)), { code: 'ERR_PARQUET_MODULE_AUTH' })
    await assert.rejects(
      decrypt(swap(synthetic, { start: h0.start, end: p0.end }, { start: h1.start, end: p1.end })),
      {
        code: 'ERR_PARQUET_MODULE_AUTH',
      },
    )
    // The same page of two row groups (equal sizes): the row group ordinal catches it.
    const p3 = pages[3] as Span
    await assert.rejects(decrypt(swap(synthetic, p0, p3)), { code: 'ERR_PARQUET_MODULE_AUTH' })
  })

  it('a module moved from another file under the same key fails (aad_file_unique)', async () => {
    const other = memorySink()
    await encryptParquet(
      bytesSource(
        syntheticParquet([
          [
            [1, 2, 3],
            [4, 5, 6],
            [7, 8, 9],
          ],
          [[10, 11, 12]],
        ]),
      ),
      other,
      {
        footerKey: key,
        footerKeyMetadata: new Uint8Array(0),
      },
    )
    const b = other.bytes()
    assert.equal(b.length, synthetic.length)
    const a = layout(synthetic)
    const cases = [
      [a.pages[1], 'ERR_PARQUET_MODULE_AUTH'],
      [a.headers[2], 'ERR_PARQUET_MODULE_AUTH'],
      [a.footerModule, 'ERR_PARQUET_FOOTER_AUTH'],
    ] as const
    for (const [span, code] of cases) {
      const mixed = synthetic.slice()
      mixed.set(b.subarray((span as Span).start, (span as Span).end), (span as Span).start)
      await assert.rejects(decrypt(mixed), { code })
    }
  })

  it('a wrong key fails ERR_PARQUET_FOOTER_AUTH', async () => {
    await assert.rejects(decrypt(duck, new Uint8Array(randomBytes(16))), {
      code: 'ERR_PARQUET_FOOTER_AUTH',
    })
    await assert.rejects(decrypt(duck, new Uint8Array(randomBytes(32))), {
      code: 'ERR_PARQUET_FOOTER_AUTH',
    })
  })

  it('a bit flipped anywhere gives a typed error or the same plaintext', async () => {
    const reference = plainOfSynthetic
    const codes = new Set<string>()
    for (let at = 0; at < synthetic.length; at++) {
      const out = memorySink()
      try {
        await decryptParquet(bytesSource(flip(synthetic, at, 1 << (at % 8))), out, {
          keyRetriever: () => key,
        })
        assert.deepEqual(out.bytes(), reference, `flip at ${at} changed the output silently`)
        codes.add('unchanged')
      } catch (error) {
        assert.ok(isSubrosaError(error), `flip at ${at}: ${String(error)}`)
        codes.add(error.code)
      }
    }
    process.stdout.write(`# codes seen: ${[...codes].sort().join(', ')}\n`)
    for (const code of [
      'ERR_PARQUET_MODULE_AUTH',
      'ERR_PARQUET_FOOTER_AUTH',
      'ERR_PARQUET_MALFORMED',
      'ERR_PARQUET_TRUNCATED',
    ]) {
      assert.ok(codes.has(code), `${code} in ${[...codes].join(', ')}`)
    }
  })
})
