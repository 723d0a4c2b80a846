import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { CRYPTO_ERRORS } from './errors.ts'
import { openSecret, sealSecret } from './seal.ts'

describe('sealSecret / openSecret', () => {
  const root = new Uint8Array(randomBytes(32))
  const secret = utf8('spark-auth-secret')
  const context = 'secret:acme/taxi/spark-auth'

  it('round-trips as 0x01 | nonce | ct | tag', () => {
    const sealed = sealSecret(root, secret, context)
    assert.equal(sealed[0], 0x01)
    assert.equal(sealed.length, 1 + 12 + secret.length + 16)
    assert.deepEqual(openSecret(root, sealed, context), secret)
    assert.deepEqual(
      openSecret(root, sealSecret(root, new Uint8Array(0), context), context),
      new Uint8Array(0),
    )
  })

  it('uses fresh nonces', () => {
    assert.notDeepEqual(sealSecret(root, secret, context), sealSecret(root, secret, context))
  })

  it('refuses another record, another root key, flipped bits and truncation', () => {
    const sealed = sealSecret(root, secret, context)
    assert.throws(() => openSecret(root, sealed, 'secret:acme/taxi/other'), {
      code: 'ERR_CRYPTO_AUTH',
    })
    assert.throws(() => openSecret(new Uint8Array(32), sealed, context), {
      code: 'ERR_CRYPTO_AUTH',
    })
    for (let i = 1; i < sealed.length; i++) {
      const copy = sealed.slice()
      copy[i] = (copy[i] as number) ^ 0x80
      assert.throws(() => openSecret(root, copy, context), { code: 'ERR_CRYPTO_AUTH' })
    }
    const version = sealed.slice()
    version[0] = 0x02
    assert.throws(() => openSecret(root, version, context), { code: 'ERR_CRYPTO_SEALED_MALFORMED' })
    assert.throws(() => openSecret(root, sealed.subarray(0, 28), context), {
      code: 'ERR_CRYPTO_SEALED_MALFORMED',
    })
    assert.throws(() => openSecret(root, sealed.subarray(0, sealed.length - 1), context), {
      code: 'ERR_CRYPTO_AUTH',
    })
  })

  it('needs a 32-byte root key', () => {
    assert.throws(() => sealSecret(new Uint8Array(16), secret, context), {
      code: 'ERR_CRYPTO_KEY_LENGTH',
    })
    assert.throws(() => openSecret(new Uint8Array(16), new Uint8Array(40), context), {
      code: 'ERR_CRYPTO_KEY_LENGTH',
    })
  })

  it('never puts key bytes in error messages', () => {
    assert.throws(
      () => openSecret(root, sealSecret(root, secret, context), 'other'),
      (error: unknown) => {
        const text = JSON.stringify(error) + String(error)
        assert.equal(text.includes(Buffer.from(root).toString('hex')), false)
        assert.equal(text.includes(Buffer.from(root).toString('base64')), false)
        return true
      },
    )
  })

  it('documents every code in one line', () => {
    for (const [code, meaning] of Object.entries(CRYPTO_ERRORS)) {
      assert.match(code, /^ERR_(CRYPTO|PARQUET|STREAM|AE)_[A-Z_]+$/)
      assert.equal(meaning.includes('\n'), false)
    }
  })
})
