import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import {
  compactJwsParts,
  type Es256Jwk,
  es256PrivateKey,
  es256PublicKey,
  signCompactEs256,
  verifiesEs256,
} from './es256.ts'

describe('compact ES256 JWS with node:crypto', () => {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const priv = pair.privateKey.export({ format: 'jwk' }) as Es256Jwk
  const pub = pair.publicKey.export({ format: 'jwk' }) as Es256Jwk
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey

  it('signs and verifies, importing each JWK object once', () => {
    const key = es256PrivateKey(priv)
    assert.ok(key)
    assert.equal(es256PrivateKey(priv), key)
    const jws = signCompactEs256({ alg: 'ES256' }, { a: 1 }, key)
    const parts = compactJwsParts(jws)
    assert.ok(parts)
    assert.deepEqual(JSON.parse(Buffer.from(parts.header).toString()), { alg: 'ES256' })
    assert.deepEqual(JSON.parse(Buffer.from(parts.payload).toString()), { a: 1 })
    assert.equal(parts.signature.length, 64)
    const verifier = es256PublicKey(pub)
    assert.ok(verifier)
    assert.equal(es256PublicKey(pub), verifier)
    assert.equal(verifiesEs256(parts, verifier), true)
    assert.equal(verifiesEs256(parts, other), false)
  })

  it('refuses tampered parts, short signatures and malformed structure', () => {
    const key = es256PrivateKey(priv) as NonNullable<ReturnType<typeof es256PrivateKey>>
    const verifier = es256PublicKey(pub) as NonNullable<ReturnType<typeof es256PublicKey>>
    const [h, p, s] = signCompactEs256({ alg: 'ES256' }, { a: 1 }, key).split('.') as [
      string,
      string,
      string,
    ]
    const tamperedPayload = Buffer.from('{"a":2}').toString('base64url')
    const sig = Buffer.from(s, 'base64url')
    sig[0] = (sig[0] as number) ^ 1
    for (const bad of [
      `${h}.${tamperedPayload}.${s}`,
      `${h}.${p}.${sig.toString('base64url')}`,
      `${h}.${p}.${Buffer.from(s, 'base64url').subarray(0, 63).toString('base64url')}`,
    ]) {
      const parts = compactJwsParts(bad)
      assert.ok(parts, bad)
      assert.equal(verifiesEs256(parts, verifier), false, bad)
    }
    for (const malformed of [`${h}.${p}`, `${h}.${p}.${s}.x`, `${h}.${p}+.${s}`, `${h}.${p}.${s}=`])
      assert.equal(compactJwsParts(malformed), undefined, malformed)
    assert.ok(compactJwsParts(`${h}..${s}`), 'an empty payload is a compact JWS')
    const unsigned = compactJwsParts(`${h}.${p}.`)
    assert.ok(unsigned)
    assert.equal(verifiesEs256(unsigned, verifier), false)
  })

  it('imports only EC P-256 keys on the curve', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({
      format: 'jwk',
    }) as Es256Jwk
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({
      format: 'jwk',
    }) as Es256Jwk
    const offCurve = { ...pub, y: Buffer.alloc(32, 7).toString('base64url') }
    for (const jwk of [rsa, p384, offCurve, { kty: 'EC', crv: 'P-256' }])
      assert.equal(es256PublicKey(jwk), undefined)
    assert.equal(es256PrivateKey(pub), undefined, 'a public JWK has no private key')
  })
})
