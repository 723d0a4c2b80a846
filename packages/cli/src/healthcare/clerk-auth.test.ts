// The clerk portal's route on the healthcare API: the clerk-key proof and CORS (ADR 0031).
// The route itself, end to end, is in healthcare-e2e.test.ts and the portal's browser test.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { before, describe, it } from 'node:test'
import { toBase64Url, utf8 } from '@subrosa/core'
import { createMemoryReplayCache } from '@subrosa/sdk'
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import {
  CLERK_PROOF_TYP,
  type ClerkKeyring,
  clerkKeyring,
  corsHeaders,
  verifyClerkProof,
} from '../../../../examples/healthcare/clerk-auth.ts'

const NOW = new Date('2026-12-01T12:00:00Z')
const BODY = utf8('eyJhbGciOiJFQ0RILUVTK0EyNTZLVyJ9.the.record.jwe')

describe('verifyClerkProof', () => {
  let clerk: { privateKey: CryptoKey; publicJwk: JWK }
  let stranger: { privateKey: CryptoKey }
  let keyring: ClerkKeyring
  let kid: string

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    clerk = { privateKey: pair.privateKey, publicJwk: await exportJWK(pair.publicKey) }
    stranger = await generateKeyPair('ES256')
    keyring = await clerkKeyring([clerk.publicJwk])
    kid = [...keyring.keys()][0] as string
  })

  const proof = (
    over: {
      key?: CryptoKey
      aud?: string
      iat?: number
      exp?: number
      body?: Uint8Array
      typ?: string
      jti?: string
    } = {},
  ) => {
    const iat = over.iat ?? Math.floor(NOW.getTime() / 1000)
    const bsh = toBase64Url(
      new Uint8Array(
        createHash('sha256')
          .update(over.body ?? BODY)
          .digest(),
      ),
    )
    return new SignJWT({ bsh })
      .setProtectedHeader({ alg: 'ES256', typ: over.typ ?? CLERK_PROOF_TYP, kid })
      .setAudience(over.aud ?? 'api')
      .setIssuedAt(iat)
      .setExpirationTime(over.exp ?? iat + 60)
      .setJti(over.jti ?? crypto.randomUUID())
      .sign(over.key ?? clerk.privateKey)
  }
  const verify = async (p: Promise<string>, body = BODY, replayCache = createMemoryReplayCache()) =>
    verifyClerkProof(await p, body, { keyring, audience: 'api', replayCache, now: NOW })

  it('accepts a proof by a listed key for this API and body, once', async () => {
    const replayCache = createMemoryReplayCache()
    const p = await proof()
    assert.deepEqual(await verify(Promise.resolve(p), BODY, replayCache), { clerk: kid })
    await assert.rejects(verify(Promise.resolve(p), BODY, replayCache), {
      code: 'ERR_TOKEN_REPLAY',
    })
  })

  it('refuses an unlisted key, another audience, a stale or long proof, another body', async () => {
    const now = Math.floor(NOW.getTime() / 1000)
    await assert.rejects(verify(proof({ key: stranger.privateKey })), {
      code: 'ERR_TOKEN_SIGNATURE',
    })
    await assert.rejects(verify(proof({ aud: 'diagnostics' })), { code: 'ERR_TOKEN_AUDIENCE' })
    await assert.rejects(verify(proof({ iat: now - 120, exp: now - 60 })), {
      code: 'ERR_TOKEN_EXPIRED',
    })
    await assert.rejects(verify(proof({ exp: now + 3600 })), { code: 'ERR_TOKEN_CLAIMS' })
    await assert.rejects(verify(proof({ body: utf8('another record') })), {
      code: 'ERR_TOKEN_CLAIMS',
    })
    await assert.rejects(verify(proof({ typ: 'JWT' })), { code: 'ERR_TOKEN_CLAIMS' })
    await assert.rejects(verify(proof({ jti: 'short' })), { code: 'ERR_TOKEN_CLAIMS' })
    await assert.rejects(verify(Promise.resolve('not.a.jws')), { code: 'ERR_TOKEN_INVALID' })
  })

  it('lists public P-256 keys only', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    await assert.rejects(clerkKeyring([await exportJWK(privateKey)]), TypeError)
    await assert.rejects(clerkKeyring([{ kty: 'OKP', crv: 'Ed25519', x: 'AA' }]), TypeError)
  })
})

describe('corsHeaders', () => {
  it('answers listed origins exactly, and no other', () => {
    const allowed = ['http://127.0.0.1:8080']
    const headers = corsHeaders('http://127.0.0.1:8080', allowed)
    assert.equal(headers['access-control-allow-origin'], 'http://127.0.0.1:8080')
    assert.equal(headers['access-control-allow-headers'], 'authorization, content-type')
    assert.equal(headers['access-control-allow-credentials'], undefined)
    assert.deepEqual(corsHeaders('http://127.0.0.1:8081', allowed), {})
    assert.deepEqual(corsHeaders('http://127.0.0.1:8080.evil.test', allowed), {})
    assert.deepEqual(corsHeaders(undefined, allowed), {})
  })
})
