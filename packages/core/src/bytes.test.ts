import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  concatBytes,
  equalBytes,
  fromBase64,
  fromBase64Url,
  fromHex,
  toBase64,
  toBase64Url,
  toHex,
  utf8,
} from './bytes.ts'

describe('bytes', () => {
  const sample = new Uint8Array([0, 1, 0xfe, 0xff, 0x7f])

  it('round-trips hex, base64 and base64url', () => {
    assert.equal(toHex(sample), '0001feff7f')
    assert.deepEqual(fromHex('0001FEFF7F'), sample)
    assert.equal(toBase64(sample), 'AAH+/38=')
    assert.deepEqual(fromBase64('AAH+/38='), sample)
    assert.equal(toBase64Url(sample), 'AAH-_38')
    assert.deepEqual(fromBase64Url('AAH-_38'), sample)
  })

  it('rejects malformed encodings instead of guessing', () => {
    assert.equal(fromHex('abc'), undefined)
    assert.equal(fromHex('zz'), undefined)
    assert.equal(fromBase64('AAH-_38'), undefined)
    assert.equal(fromBase64('AAH+/38'), undefined)
    assert.equal(fromBase64Url('AAH+/38='), undefined)
    assert.equal(fromBase64Url('A'), undefined)
  })

  it('compares in constant time and treats length as significant', () => {
    assert.equal(equalBytes(utf8('abc'), utf8('abc')), true)
    assert.equal(equalBytes(utf8('abc'), utf8('abd')), false)
    assert.equal(equalBytes(utf8('abc'), utf8('ab')), false)
  })

  it('concatenates', () => {
    assert.deepEqual(concatBytes(utf8('a'), new Uint8Array(), utf8('bc')), utf8('abc'))
  })
})
