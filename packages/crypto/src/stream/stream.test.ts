import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { concatBytes } from '@subrosa/core'
import { CryptoError } from '../errors.ts'
import { bytesSource, memorySink } from '../parquet/byte-io.ts'
import { readStreamHeader } from './header.ts'
import { decryptStream, encryptStream } from './stream.ts'

const CHUNK = 4096
const PHYSICAL = CHUNK + 16
const dek = new Uint8Array(randomBytes(32))
const ids = { keyId: 'subrosa:acme/taxi', wrappedDek: 'wrapped-by-kms' }

async function encrypt(plain: Uint8Array, key = dek): Promise<Uint8Array> {
  const sink = memorySink()
  await encryptStream(bytesSource(plain), sink, { dek: key, ...ids, chunkSize: CHUNK })
  return sink.bytes()
}

async function decrypt(file: Uint8Array, key = dek): Promise<Uint8Array> {
  const sink = memorySink()
  await decryptStream(bytesSource(file), sink, { dekFor: async () => key })
  return sink.bytes()
}

async function refuses(file: Uint8Array, code: string, key = dek): Promise<CryptoError> {
  let caught: unknown
  await decrypt(file, key).catch((e) => {
    caught = e
  })
  assert.ok(caught instanceof CryptoError, `expected ${code}, got ${String(caught)}`)
  assert.equal(caught.code, code)
  return caught
}

/** Header length and the chunk byte ranges of an encrypted file. */
async function layout(file: Uint8Array): Promise<{ header: number; chunks: [number, number][] }> {
  const { length } = await readStreamHeader(bytesSource(file))
  const chunks: [number, number][] = []
  for (let at = length; at < file.length; at += PHYSICAL)
    chunks.push([at, Math.min(at + PHYSICAL, file.length)])
  return { header: length, chunks }
}

function withChunks(file: Uint8Array, header: number, chunks: Uint8Array[]): Uint8Array {
  return concatBytes(file.subarray(0, header), ...chunks)
}

describe('streaming AEAD files', () => {
  it('round-trip every size around chunk boundaries, with a final chunk always present', async () => {
    for (const size of [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 1234]) {
      const plain = new Uint8Array(randomBytes(size))
      const file = await encrypt(plain)
      const chunks = Math.floor(size / CHUNK) + 1
      const { header } = await layout(file)
      assert.equal(file.length, header + size + 16 * chunks, `size ${size}`)
      assert.deepEqual(await decrypt(file), plain)
    }
  })

  it('store the key id and wrapped DEK, and no plaintext', async () => {
    const plain = new TextEncoder().encode('medallion,fare\nA123,9.5\n'.repeat(400))
    const file = await encrypt(plain)
    const { header } = await readStreamHeader(bytesSource(file))
    assert.equal(header.keyId, ids.keyId)
    assert.equal(header.wrappedDek, ids.wrappedDek)
    assert.equal(header.chunkSize, CHUNK)
    assert.ok(!Buffer.from(file).includes('A123'))
    // Two encryptions of the same plaintext differ (fresh file nonce).
    assert.notDeepEqual(await encrypt(plain), file)
  })

  it('refuse a wrong key and a changed header', async () => {
    const file = await encrypt(new Uint8Array(randomBytes(10_000)))
    await refuses(file, 'ERR_STREAM_HEADER_AUTH', new Uint8Array(randomBytes(32)))
    const { header } = await layout(file)
    // Version byte: not this format version. Chunk size, file nonce, ids, tag: the tag fails.
    for (const at of [4, 7, 8, 20, header - 20, header - 1]) {
      const bad = file.slice()
      bad[at] = (bad[at] as number) ^ 1
      await refuses(bad, at === 4 ? 'ERR_STREAM_MALFORMED' : 'ERR_STREAM_HEADER_AUTH')
    }
  })

  it('tell truncation, reordering and chunks of another file apart', async () => {
    const plain = new Uint8Array(randomBytes(5 * CHUNK + 100))
    const file = await encrypt(plain)
    const { header, chunks } = await layout(file)
    const parts = chunks.map(([a, b]) => file.subarray(a, b))
    assert.equal(parts.length, 6)
    // Cut at a chunk boundary (the final chunk is gone), and inside the last tag.
    await refuses(withChunks(file, header, parts.slice(0, 5)), 'ERR_STREAM_TRUNCATED')
    await refuses(
      file.subarray(0, file.length - (parts[5]?.length ?? 0) + 10),
      'ERR_STREAM_TRUNCATED',
    )
    // Two chunks swapped, a chunk dropped, a chunk duplicated.
    const [c0, c1, c2, c3, c4, c5] = parts as Uint8Array[]
    const swapped = await refuses(
      withChunks(file, header, [c0, c2, c1, c3, c4, c5] as Uint8Array[]),
      'ERR_STREAM_REORDERED',
    )
    assert.deepEqual(swapped.details, { chunk: 1, belongsAt: 2 })
    await refuses(
      withChunks(file, header, [c0, c1, c3, c4, c5] as Uint8Array[]),
      'ERR_STREAM_REORDERED',
    )
    await refuses(
      withChunks(file, header, [c0, c1, c1, c2, c3, c4, c5] as Uint8Array[]),
      'ERR_STREAM_REORDERED',
    )
    // A chunk at the same position of another file under the same DEK.
    const other = await encrypt(new Uint8Array(randomBytes(5 * CHUNK + 100)))
    const o = await layout(other)
    const [oa, ob] = o.chunks[2] as [number, number]
    const foreign = await refuses(
      withChunks(file, header, [c0, c1, other.subarray(oa, ob), c3, c4, c5] as Uint8Array[]),
      'ERR_STREAM_CHUNK_AUTH',
    )
    assert.deepEqual(foreign.details, { chunk: 2 })
    // A flipped byte in a chunk.
    const flipped = file.slice()
    const at = (chunks[3] as [number, number])[0] + 17
    flipped[at] = (flipped[at] as number) ^ 0x80
    await refuses(flipped, 'ERR_STREAM_CHUNK_AUTH')
    // Bytes appended after the final chunk.
    await refuses(concatBytes(file, new Uint8Array(PHYSICAL)), 'ERR_STREAM_CHUNK_AUTH')
  })

  it('refuse what is not a stream file, and bad parameters', async () => {
    await refuses(new TextEncoder().encode('medallion,fare\n'), 'ERR_STREAM_MALFORMED')
    await refuses(new Uint8Array(0), 'ERR_STREAM_TRUNCATED')
    const file = await encrypt(new Uint8Array(100))
    await refuses(file.subarray(0, 30), 'ERR_STREAM_TRUNCATED')
    await assert.rejects(
      encryptStream(bytesSource(new Uint8Array(1)), memorySink(), { dek, ...ids, chunkSize: 1000 }),
      { code: 'ERR_STREAM_MALFORMED' },
    )
    await assert.rejects(
      encryptStream(bytesSource(new Uint8Array(1)), memorySink(), {
        dek: new Uint8Array(16),
        ...ids,
      }),
      { code: 'ERR_CRYPTO_KEY_LENGTH' },
    )
  })

  it('give only typed errors on 5,000 seeded mutations', async () => {
    const file = await encrypt(new Uint8Array(randomBytes(2 * CHUNK + 77)))
    let seed = 0x5eed
    const next = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0
      return seed
    }
    for (let n = 0; n < 5000; n++) {
      const bad = file.slice(0, n % 7 === 0 ? next() % file.length : file.length)
      for (let k = 0; k < 1 + (next() % 3); k++) {
        const at = next() % Math.max(1, bad.length)
        if (bad.length > 0) bad[at] = next() & 0xff
      }
      try {
        await decrypt(bad)
      } catch (e) {
        assert.ok(e instanceof CryptoError, `mutation ${n}: ${String(e)}`)
      }
    }
  })
})
