import assert from 'node:assert/strict'
import { createCipheriv, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { fromBase64, toBase64, utf8 } from '@subrosa/core'
import { createInMemoryKms } from './kms.ts'
import { localUnwrap, localWrap, unwrapKey, wrapKey } from './wrap.ts'

const flip = (bytes: Uint8Array, index: number): Uint8Array => {
  const copy = bytes.slice()
  copy[index] = (copy[index] as number) ^ 0x01
  return copy
}

describe('wrapKey / unwrapKey', () => {
  const kek = new Uint8Array(randomBytes(32))
  const key = new Uint8Array(randomBytes(16))
  const aad = utf8('dataset-7')

  it('round-trips with AES-128/192/256 and lays out nonce|ct|tag', () => {
    for (const length of [16, 24, 32]) {
      const k = new Uint8Array(randomBytes(length))
      const wrapped = wrapKey(k, key, aad)
      assert.equal(wrapped.length, 12 + key.length + 16)
      assert.deepEqual(unwrapKey(k, wrapped, aad), key)
    }
  })

  it('matches plain AES-GCM from node:crypto (deterministic nonce)', () => {
    const nonce = new Uint8Array(12).fill(9)
    const wrapped = wrapKey(kek, key, aad, () => nonce)
    const c = createCipheriv('aes-256-gcm', kek, nonce)
    c.setAAD(aad)
    const ct = Buffer.concat([c.update(key), c.final(), c.getAuthTag()])
    assert.deepEqual(wrapped, new Uint8Array(Buffer.concat([nonce, ct])))
  })

  it('refuses a wrong key, wrong AAD, any flipped bit, truncation and bad key lengths', () => {
    const wrapped = wrapKey(kek, key, aad)
    assert.throws(() => unwrapKey(new Uint8Array(32), wrapped, aad), { code: 'ERR_CRYPTO_AUTH' })
    assert.throws(() => unwrapKey(kek, wrapped, utf8('dataset-8')), { code: 'ERR_CRYPTO_AUTH' })
    for (let i = 0; i < wrapped.length; i++) {
      assert.throws(() => unwrapKey(kek, flip(wrapped, i), aad), { code: 'ERR_CRYPTO_AUTH' })
    }
    assert.throws(() => unwrapKey(kek, wrapped.subarray(0, wrapped.length - 1), aad), {
      code: 'ERR_CRYPTO_AUTH',
    })
    assert.throws(() => unwrapKey(kek, wrapped.subarray(0, 27), aad), {
      code: 'ERR_CRYPTO_WRAPPED_KEY_MALFORMED',
    })
    assert.throws(() => wrapKey(new Uint8Array(15), key, aad), { code: 'ERR_CRYPTO_KEY_LENGTH' })
    assert.throws(() => unwrapKey(new Uint8Array(33), wrapped, aad), {
      code: 'ERR_CRYPTO_KEY_LENGTH',
    })
  })
})

describe('localWrap / localUnwrap (parquet key tools)', () => {
  const master = utf8('0123456789012345')

  it('is base64(nonce|ct|tag) with AAD = UTF-8 master key id', () => {
    const wrapped = localWrap(master, utf8('kek-bytes-16-byt'), 'kf')
    const raw = fromBase64(wrapped) as Uint8Array
    assert.deepEqual(unwrapKey(master, raw, utf8('kf')), utf8('kek-bytes-16-byt'))
    assert.deepEqual(localUnwrap(master, wrapped, 'kf'), utf8('kek-bytes-16-byt'))
  })

  it('binds the master key id and refuses malformed input', () => {
    const wrapped = localWrap(master, utf8('k'), 'kf')
    assert.throws(() => localUnwrap(master, wrapped, 'kc1'), { code: 'ERR_CRYPTO_AUTH' })
    assert.throws(() => localUnwrap(master, 'not base64!', 'kf'), {
      code: 'ERR_CRYPTO_WRAPPED_KEY_MALFORMED',
    })
    const raw = fromBase64(wrapped) as Uint8Array
    assert.throws(() => localUnwrap(master, toBase64(flip(raw, 20)), 'kf'), {
      code: 'ERR_CRYPTO_AUTH',
    })
    assert.throws(() => localUnwrap(master, toBase64(raw.subarray(0, 20)), 'kf'), {
      code: 'ERR_CRYPTO_WRAPPED_KEY_MALFORMED',
    })
  })
})

describe('createInMemoryKms', () => {
  it('wraps and unwraps under the named master key only', async () => {
    const kms = createInMemoryKms({ kf: utf8('0123456789012345'), kc1: utf8('1234567890123450') })
    const key = new Uint8Array(randomBytes(16))
    const wrapped = await kms.wrapKey(key, 'kf')
    assert.deepEqual(await kms.unwrapKey(wrapped, 'kf'), key)
    assert.deepEqual(localUnwrap(utf8('0123456789012345'), wrapped, 'kf'), key)
    await assert.rejects(kms.unwrapKey(wrapped, 'kc1'), { code: 'ERR_CRYPTO_AUTH' })
    await assert.rejects(kms.wrapKey(key, 'nope'), { code: 'ERR_CRYPTO_UNKNOWN_MASTER_KEY' })
    await assert.rejects(kms.unwrapKey(wrapped, 'nope'), { code: 'ERR_CRYPTO_UNKNOWN_MASTER_KEY' })
  })

  it('refuses master keys that are not AES keys', () => {
    assert.throws(() => createInMemoryKms({ bad: new Uint8Array(10) }), {
      code: 'ERR_CRYPTO_KEY_LENGTH',
    })
  })
})
