import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { canonicalJson } from './canonical-json.ts'

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units and drops whitespace', () => {
    assert.equal(
      canonicalJson({ b: 1, a: 'x', c: { e: [1, 2], d: null } }),
      '{"a":"x","b":1,"c":{"d":null,"e":[1,2]}}',
    )
    // RFC 8785 §3.2.3: sorting is by UTF-16 code units, so U+1F600 (a surrogate pair) sorts
    // before U+FB33 even though its code point is larger.
    assert.equal(canonicalJson({ '\ufb33': 1, '\u{1f600}': 2 }), '{"\u{1f600}":2,"\ufb33":1}')
  })

  it('formats numbers as ECMAScript does (RFC 8785 §3.2.2.3 examples)', () => {
    assert.equal(
      canonicalJson([1e21, 1e-7, 0.000001, -0, 333333333.3333333, 4.5]),
      '[1e+21,1e-7,0.000001,0,333333333.3333333,4.5]',
    )
  })

  it('matches the Trustee runtime-data test vector', () => {
    // confidential-containers/trustee attestation-service/src/lib.rs: SHA-384 of the canonical
    // JSON of {"b":1,"a":"test","c":{"d":"e"}}.
    const digest = createHash('sha384')
      .update(canonicalJson({ b: 1, a: 'test', c: { d: 'e' } }))
      .digest('hex')
    assert.equal(
      digest,
      'e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3',
    )
  })

  it('refuses values JSON cannot carry', () => {
    for (const bad of [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10n,
      () => 1,
      '\ud800',
      { a: [Number.NaN] },
    ]) {
      assert.throws(() => canonicalJson(bad), { code: 'ERR_CORE_CANONICAL_JSON' })
    }
  })
})
