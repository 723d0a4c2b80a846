import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createClient } from '@redis/client'
import { createSimEvidence, generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import {
  generateOwnerKey,
  type OwnerKey,
  reportDataFor,
  signExchangedToken,
} from '@subrosa/protocol'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { applyPolicy } from './admin.ts'
import { BrokerClient } from './client.ts'
import { BrokerCallError } from './errors.ts'
import {
  createMemoryReplayCache,
  createRedisReplayCache,
  type ReplayCache,
} from './replay-cache.ts'
import { exchangeToken, verifyExchangedToken } from './token-exchange.ts'

const ISSUER = 'https://broker.test'
const NOW = new Date('2026-11-22T12:00:00Z')
const WORKLOAD = {
  namespace: 'acme',
  policy: 'health',
  workload: 'api',
  policyHash: `sha384:${'0'.repeat(96)}`,
  policyVersion: 1,
}

async function signingKey(kid: string): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  return {
    privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  }
}

function issue(key: JWK, overrides: { audience?: string; jti?: string; ttl?: number } = {}) {
  return signExchangedToken(
    {
      issuer: ISSUER,
      audience: overrides.audience ?? 'diagnostics',
      now: NOW,
      ttlSeconds: overrides.ttl ?? 300,
      jti: overrides.jti ?? systemRandom(16).reduce((s, b) => s + b.toString(16), 'j'),
      workload: WORKLOAD,
      tee: 'sim',
      insecure: true,
    },
    key,
  )
}

/** The verifier checks every service runs, with `cache` and a clock at `at`. */
function verifier(jwks: { keys: JWK[] }, cache: ReplayCache, at = NOW) {
  return (token: string, audience = 'diagnostics') =>
    verifyExchangedToken(token, {
      jwks,
      issuer: ISSUER,
      audience,
      replayCache: cache,
      clock: () => at,
    })
}

describe('verifyExchangedToken (the downstream side)', () => {
  let key: { privateJwk: JWK; publicJwk: JWK }
  let jwks: { keys: JWK[] }
  before(async () => {
    key = await signingKey('k1')
    jwks = { keys: [key.publicJwk] }
  })

  it('accepts a token once and refuses it replayed', async () => {
    const verify = verifier(jwks, createMemoryReplayCache())
    const token = await issue(key.privateJwk)
    const claims = await verify(token)
    assert.equal(claims.sub, 'acme/health/api')
    await assert.rejects(verify(token), { code: 'ERR_TOKEN_REPLAY' })
    // Another token of the same workload is another jti: accepted.
    assert.equal((await verify(await issue(key.privateJwk))).aud, 'diagnostics')
  })

  it('refuses another audience, an expired token and an unknown signing key', async () => {
    const cache = createMemoryReplayCache()
    const token = await issue(key.privateJwk)
    await assert.rejects(verifier(jwks, cache)(token, 'billing'), { code: 'ERR_TOKEN_AUDIENCE' })
    const late = new Date(NOW.getTime() + 301_000)
    await assert.rejects(verifier(jwks, cache, late)(token), { code: 'ERR_TOKEN_EXPIRED' })
    const impostor = await signingKey('k1')
    await assert.rejects(verifier(jwks, cache)(await issue(impostor.privateJwk)), {
      code: 'ERR_TOKEN_SIGNATURE',
    })
    const unknownKid = await signingKey('k2')
    await assert.rejects(verifier(jwks, cache)(await issue(unknownKid.privateJwk)), {
      code: 'ERR_TOKEN_SIGNATURE',
    })
    // None of the refused tokens used up its jti: the good one is still accepted once.
    assert.equal((await verifier(jwks, cache)(token)).aud, 'diagnostics')
  })

  it('refuses a JWT that is not an exchanged token (EAR typ) or lives too long', async () => {
    const verify = verifier(jwks, createMemoryReplayCache())
    const claims = { sub: 'acme/health/api', aud: 'diagnostics', jti: 'x'.repeat(22) }
    const ear = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'JWT' })
      .setIssuer(ISSUER)
      .setIssuedAt(NOW)
      .setExpirationTime(new Date(NOW.getTime() + 60_000))
      .sign(key.privateJwk)
    await assert.rejects(verify(ear), { code: 'ERR_TOKEN_INVALID' })
    const long = await new SignJWT({
      ...claims,
      'subrosa.workload': WORKLOAD,
      'subrosa.tee': 'sim',
      'subrosa.insecure': true,
    })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setIssuedAt(NOW)
      .setExpirationTime(new Date(NOW.getTime() + 3600_000))
      .sign(key.privateJwk)
    await assert.rejects(verify(long), { code: 'ERR_TOKEN_CLAIMS' })
    await assert.rejects(verify(`${(await issue(key.privateJwk)).slice(0, -4)}AAAA`), {
      code: 'ERR_TOKEN_SIGNATURE',
    })
  })
})

const REDIS_URL = process.env.SUBROSA_TEST_REDIS ?? 'redis://127.0.0.1:6379'

async function reachableRedis() {
  const client = createClient({ url: REDIS_URL, socket: { reconnectStrategy: false } })
  client.on('error', () => {})
  try {
    await client.connect()
    return client
  } catch {
    return undefined
  }
}

describe('the Redis replay cache (SET NX with expiry)', async () => {
  const client = await reachableRedis()
  after(() => client?.destroy())
  const skip = client === undefined ? `no Redis at ${REDIS_URL} (set SUBROSA_TEST_REDIS)` : false

  it('lets two replicas accept a token once between them, until it expires', { skip }, async () => {
    if (client === undefined) return
    const key = await signingKey('k1')
    const jwks = { keys: [key.publicJwk] }
    const prefix = `subrosa-test:${systemRandom(8).join('')}:`
    const replicaA = verifier(jwks, createRedisReplayCache(client, { prefix }))
    const replicaB = verifier(jwks, createRedisReplayCache(client, { prefix }))
    const token = await issue(key.privateJwk, { jti: 'jti-shared-by-replicas-0001', ttl: 120 })
    await replicaA(token)
    await assert.rejects(replicaB(token), { code: 'ERR_TOKEN_REPLAY' })
    await assert.rejects(replicaA(token), { code: 'ERR_TOKEN_REPLAY' })
    const stored = `${prefix}${createHash('sha256').update(`${ISSUER}\njti-shared-by-replicas-0001`).digest('hex')}`
    const ttl = await client.pTTL(stored)
    assert.ok(ttl > 0 && ttl <= 120_000, `expiry set (${ttl} ms)`)
    await client.del(stored)
  })

  it('refuses the token when Redis cannot answer (fails closed)', { skip }, async () => {
    const closed = await reachableRedis()
    assert.ok(closed)
    closed.destroy()
    const key = await signingKey('k1')
    const verify = verifier({ keys: [key.publicJwk] }, createRedisReplayCache(closed))
    await assert.rejects(verify(await issue(key.privateJwk)), { code: 'ERR_SDK_CACHE_UNAVAILABLE' })
  })
})

describe('exchangeToken against a broker over loopback HTTPS', () => {
  let broker: RunningBroker
  let owner: OwnerKey
  let sim: SimPlatformKey
  let client: BrokerClient
  let ear: string

  before(async () => {
    owner = await generateOwnerKey()
    sim = await generateSimPlatformKey()
    broker = await startBroker({
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
      port: 0,
    })
    const admin = new BrokerClient(broker, { owner })
    const measurement = 'cd'.repeat(48)
    await applyPolicy(
      admin,
      `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: health, predecessor: null }
owners: { threshold: 1, keys: ["${owner.id}"] }
workloads:
  - name: api
    accept: [{ tee: sim, measurement: "${measurement}" }]
    calls: [diagnostics]
`,
    )
    admin.close()
    client = new BrokerClient(broker)
    const auth = await client.call(
      'POST',
      '/kbs/v0/auth',
      { kind: 'none' },
      { version: '0.1.1', tee: 'sim', 'extra-params': { workload: 'acme/health/api' } },
    )
    const cookie = String(auth.headers['set-cookie']).split(';')[0] as string
    const { publicKey } = await generateKeyPair('ECDH-ES+A256KW')
    const { x, y } = await exportJWK(publicKey)
    const runtimeData = {
      nonce: (auth.body as { nonce: string }).nonce,
      'tee-pubkey': { kty: 'EC', crv: 'P-256', x, y, alg: 'ECDH-ES+A256KW' } as never,
    }
    const evidence = await createSimEvidence(
      {
        measurement: Buffer.from(measurement, 'hex'),
        reportData: reportDataFor(runtimeData),
        debug: false,
        svn: 1,
      },
      sim.privateJwk,
      new Date(),
    )
    const attested = await client.call(
      'POST',
      '/kbs/v0/attest',
      { kind: 'cookie', cookie },
      { 'runtime-data': runtimeData, 'tee-evidence': { primary_evidence: evidence } },
    )
    ear = (attested.body as { token: string }).token
  })
  after(async () => {
    client.close()
    await broker.close()
  })

  it('gets a token the downstream verifies once, and a typed refusal for another service', async () => {
    const { token, expiresInSeconds } = await exchangeToken(client, ear, 'diagnostics')
    assert.equal(expiresInSeconds, 300)
    const verify = (t: string) =>
      verifyExchangedToken(t, {
        jwks: broker.jwks,
        issuer: broker.context.issuer,
        audience: 'diagnostics',
        replayCache: cache,
      })
    const cache = createMemoryReplayCache()
    assert.equal((await verify(token)).sub, 'acme/health/api')
    await assert.rejects(verify(token), { code: 'ERR_TOKEN_REPLAY' })
    const refused = await exchangeToken(client, ear, 'payments').catch((e: unknown) => e)
    assert.ok(refused instanceof BrokerCallError)
    assert.equal(refused.code, 'ERR_EXCHANGE_NOT_ALLOWED')
    assert.equal(refused.status, 403)
  })
})
