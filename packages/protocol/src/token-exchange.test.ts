import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'
import {
  type ExchangedTokenInput,
  signExchangedToken,
  verifyExchangedTokenClaims,
} from './token-exchange.ts'

const NOW = new Date('2026-11-22T12:00:00Z')

describe('exchanged service tokens', () => {
  let privateJwk: JWK
  let jwks: { keys: JWK[] }
  let teeKey: JWK
  let input: ExchangedTokenInput
  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    privateJwk = { ...(await exportJWK(pair.privateKey)), kid: 'k1' }
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1' }] }
    const tee = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
    teeKey = await exportJWK(tee.publicKey)
    input = {
      issuer: 'https://broker.test',
      audience: 'diagnostics',
      now: NOW,
      ttlSeconds: 300,
      jti: 'aaaaaaaaaaaaaaaaaaaaaa',
      workload: {
        namespace: 'acme',
        policy: 'health',
        workload: 'api',
        policyHash: 'sha384:00',
        policyVersion: 3,
      },
      tee: 'tdx',
      insecure: false,
      confirmationKey: { kty: 'EC', crv: 'P-256', x: String(teeKey.x), y: String(teeKey.y) },
    }
  })
  const verify = (token: string, over: { issuer?: string; now?: Date } = {}) =>
    verifyExchangedTokenClaims(token, {
      jwks,
      issuer: over.issuer ?? 'https://broker.test',
      audience: 'diagnostics',
      now: over.now ?? NOW,
    })

  it('carries sub, aud, jti, the policy identity and cnf.jkt of the TEE key', async () => {
    const claims = await verify(await signExchangedToken(input, privateJwk))
    assert.equal(claims.sub, 'acme/health/api')
    assert.equal(claims.aud, 'diagnostics')
    assert.equal(claims.jti, input.jti)
    assert.equal(claims.exp - claims.iat, 300)
    assert.equal(claims['subrosa.workload'].policyVersion, 3)
    assert.equal(claims.cnf?.jkt, await calculateJwkThumbprint(teeKey, 'sha256'))
  })

  it('refuses another issuer, a token not yet valid, and a lifetime over five minutes', async () => {
    const token = await signExchangedToken(input, privateJwk)
    await assert.rejects(verify(token, { issuer: 'https://other.test' }), {
      code: 'ERR_TOKEN_CLAIMS',
    })
    await assert.rejects(verify(token, { now: new Date(NOW.getTime() - 10_000) }), {
      code: 'ERR_TOKEN_EXPIRED',
    })
    await assert.rejects(signExchangedToken({ ...input, ttlSeconds: 301 }, privateJwk), RangeError)
    await assert.rejects(verify('not.a.jwt'), { code: 'ERR_TOKEN_INVALID' })
    await assert.rejects(verify(42 as unknown as string), { code: 'ERR_TOKEN_INVALID' })
  })
})
