import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { trustedIssuer } from './verification.ts'

describe('trustedIssuer (broker start --token-issuer files)', () => {
  const jwks = { keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }] }

  it('accepts an issuer with a JWKS or x5c roots', () => {
    const ear = trustedIssuer({ issuer: 'https://a.example', kind: 'ear', jwks }, 'a.json')
    assert.equal(ear.kind, 'ear')
    const maa = trustedIssuer(
      { issuer: 'https://b.example', kind: 'maa', x5cRoots: ['-----BEGIN CERTIFICATE-----'] },
      'b.json',
    )
    assert.deepEqual(maa.x5cRoots?.length, 1)
  })

  it('refuses malformed files with ERR_CLI_FILE naming the file', () => {
    for (const bad of [
      null,
      [],
      { issuer: '', kind: 'ear', jwks },
      { issuer: 'https://a.example', kind: 'oidc', jwks },
      { issuer: 'https://a.example', kind: 'ear' },
      { issuer: 'https://a.example', kind: 'ear', jwks: { keys: 'no' } },
      { issuer: 'https://a.example', kind: 'ear', x5cRoots: [1] },
      { issuer: 'https://a.example', kind: 'ear', jwks, algorithms: 'ES256' },
      { issuer: 'https://a.example', kind: 'ear', jwks, extra: true },
    ]) {
      assert.throws(
        () => trustedIssuer(bad, 'issuer.json'),
        (e: Error & { code?: string }) =>
          e.code === 'ERR_CLI_FILE' && e.message.includes('issuer.json'),
        JSON.stringify(bad),
      )
    }
  })
})
