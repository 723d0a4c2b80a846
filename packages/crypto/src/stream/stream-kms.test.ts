import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { isSubrosaError } from '@subrosa/core'
import { createInMemoryKms, type KmsClient } from '../kms.ts'
import { bytesSource, memorySink } from '../parquet/byte-io.ts'
import { readStreamHeader } from './header.ts'
import { decryptStreamWithKms, encryptStreamWithKms } from './stream-kms.ts'

const ID = 'subrosa:acme/people'
const master = new Uint8Array(randomBytes(32))
const kms = createInMemoryKms({ [ID]: master })
const plain = new TextEncoder().encode('name,age,job\nabc,33,Developer\n'.repeat(1000))

async function encrypt(client: KmsClient = kms): Promise<Uint8Array> {
  const sink = memorySink()
  await encryptStreamWithKms(bytesSource(plain), sink, {
    kms: client,
    masterKeyId: ID,
    chunkSize: 4096,
  })
  return sink.bytes()
}

async function codeOf(file: Uint8Array, client: KmsClient): Promise<string> {
  try {
    await decryptStreamWithKms(bytesSource(file), memorySink(), { kms: client })
  } catch (e) {
    return isSubrosaError(e) ? e.code : String(e)
  }
  return 'no error'
}

describe('streaming AEAD under a KMS master key', () => {
  it('wraps a fresh DEK per file under the master key and round-trips', async () => {
    const file = await encrypt()
    const { header } = await readStreamHeader(bytesSource(file))
    assert.equal(header.keyId, ID)
    assert.equal(header.chunkSize, 4096)
    const other = (await readStreamHeader(bytesSource(await encrypt()))).header
    assert.notEqual(other.wrappedDek, header.wrappedDek, 'a fresh DEK per file')
    const sink = memorySink()
    const r = await decryptStreamWithKms(bytesSource(file), sink, { kms })
    assert.deepEqual(sink.bytes(), plain)
    assert.equal(r.bytes, plain.length)
    assert.equal(r.chunks, Math.floor(plain.length / 4096) + 1)
  })

  it('answers a wrong master key with ERR_STREAM_HEADER_AUTH, an unknown one as the KMS does', async () => {
    const file = await encrypt()
    const wrong = createInMemoryKms({ [ID]: new Uint8Array(randomBytes(32)) })
    assert.equal(await codeOf(file, wrong), 'ERR_STREAM_HEADER_AUTH')
    assert.equal(await codeOf(file, createInMemoryKms({})), 'ERR_CRYPTO_UNKNOWN_MASTER_KEY')
  })

  it('wipes the DEK it unwrapped, whatever happened', async () => {
    const seen: Uint8Array[] = []
    const spy: KmsClient = {
      wrapKey: (k, id) => kms.wrapKey(k, id),
      unwrapKey: async (w, id) => {
        const dek = await kms.unwrapKey(w, id)
        seen.push(dek)
        return dek
      },
    }
    const file = await encrypt()
    await decryptStreamWithKms(bytesSource(file), memorySink(), { kms: spy })
    const cut = file.subarray(0, file.length - 100)
    assert.equal(await codeOf(cut, spy), 'ERR_STREAM_CHUNK_AUTH')
    assert.equal(seen.length, 2)
    for (const dek of seen) assert.ok(dek.every((b) => b === 0))
  })

  it('wipes the DEK it made after encrypting', async () => {
    const made: Uint8Array[] = []
    const spy: KmsClient = {
      wrapKey: (k, id) => {
        made.push(k)
        return kms.wrapKey(k, id)
      },
      unwrapKey: (w, id) => kms.unwrapKey(w, id),
    }
    await encrypt(spy)
    assert.equal(made.length, 1)
    assert.ok(made[0]?.every((b) => b === 0))
  })
})
