import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { generateOwnerKey } from '@subrosa/protocol'
import { registerOwner } from './owners.ts'
import { parseRateLimit, RateLimiter } from './rate-limit.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'

describe('parseRateLimit', () => {
  it('reads per-second and per-minute rates with an optional burst', () => {
    assert.deepEqual(parseRateLimit('10/s'), { perSecond: 10, burst: 10 })
    assert.deepEqual(parseRateLimit('5'), { perSecond: 5, burst: 5 })
    assert.deepEqual(parseRateLimit('120/min'), { perSecond: 2, burst: 2 })
    assert.deepEqual(parseRateLimit('30/m, burst=60'), { perSecond: 0.5, burst: 60 })
    assert.deepEqual(parseRateLimit('0.5/s'), { perSecond: 0.5, burst: 1 })
    assert.equal(parseRateLimit('off'), undefined)
    assert.equal(parseRateLimit('0/s'), undefined)
  })

  it('refuses anything else with ERR_BROKER_CONFIG', () => {
    for (const bad of ['', 'fast', '-1/s', '10/h', '10/s,burst=0', '1e3/s', '10/s burst=3'])
      assert.throws(() => parseRateLimit(bad), { code: 'ERR_BROKER_CONFIG' }, bad)
  })
})

describe('RateLimiter', () => {
  it('allows a burst, refuses with the seconds until the next token, refills', () => {
    let now = 0
    const limiter = new RateLimiter({ perSecond: 2, burst: 3 }, () => now)
    for (let i = 0; i < 3; i++) assert.deepEqual(limiter.take('a'), { ok: true })
    assert.deepEqual(limiter.take('a'), { ok: false, retryAfterSeconds: 1 })
    assert.deepEqual(limiter.take('b'), { ok: true }, 'keys have their own buckets')
    now = 499
    assert.equal(limiter.take('a').ok, false)
    now = 500
    assert.equal(limiter.take('a').ok, true)
    assert.equal(limiter.take('a').ok, false)
    now = 100_000
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('a').ok, true, 'refills up to burst only')
    assert.equal(limiter.take('a').ok, false)
  })

  it('tells slow rates to wait several seconds', () => {
    const limiter = new RateLimiter({ perSecond: 0.1, burst: 1 }, () => 0)
    assert.equal(limiter.take('a').ok, true)
    assert.deepEqual(limiter.take('a'), { ok: false, retryAfterSeconds: 10 })
  })

  it('keeps a bounded number of clients', () => {
    let now = 0
    const limiter = new RateLimiter({ perSecond: 1, burst: 1 }, () => now)
    for (let i = 0; i < 60_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`)
    assert.ok(limiter.size <= 50_000, String(limiter.size))
    now = 5000
    limiter.take('late')
    assert.ok(limiter.size <= 50_000)
  })

  it('refuses a nonsensical limit', () => {
    assert.throws(() => new RateLimiter({ perSecond: 0, burst: 1 }), RangeError)
  })
})

describe('rate limits in the broker', () => {
  let tb: TestBroker
  let now = 0
  before(async () => {
    tb = await startTestBroker({
      operations: {
        rateLimit: { perSecond: 1, burst: 2 },
        monotonicNow: () => now,
      },
    })
  })
  after(() => tb.close())

  it('answers 429 with Retry-After per client IP, exempts health and metrics, recovers', async () => {
    const get = (url: string, ip = '10.0.0.1') =>
      tb.app.inject({ method: 'GET', url, remoteAddress: ip })
    assert.equal((await get('/.well-known/jwks.json')).statusCode, 200)
    assert.equal((await get('/.well-known/subrosa-broker')).statusCode, 200)
    const refused = await get('/.well-known/jwks.json')
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.json().code, 'ERR_BROKER_RATE_LIMITED')
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/)
    assert.equal(refused.headers['retry-after'], '1')
    assert.equal((await get('/nope')).statusCode, 429, 'unknown paths count too')
    for (const exempt of ['/healthz', '/readyz', '/metrics'])
      assert.equal((await get(exempt)).statusCode, 200, exempt)
    assert.equal((await get('/.well-known/jwks.json', '10.0.0.2')).statusCode, 200)
    now += 1000
    assert.equal((await get('/.well-known/jwks.json')).statusCode, 200, 'recovers')
    assert.equal((await get('/.well-known/jwks.json')).statusCode, 429)
    const metrics = (await get('/metrics')).body
    assert.match(metrics, /^subrosa_rate_limited_total\{scope="ip"\} 3$/m)
    assert.match(
      metrics,
      /^subrosa_http_requests_total\{route="\/\.well-known\/jwks\.json",method="GET",status="429"\} 2$/m,
    )
  })
})

describe('owner rate limits', () => {
  let tb: TestBroker
  let now = 0
  before(async () => {
    tb = await startTestBroker({
      operations: { ownerRateLimit: { perSecond: 1, burst: 1 }, monotonicNow: () => now },
    })
  })
  after(() => tb.close())

  it('limits each authenticated owner on its own, then recovers', async () => {
    assert.equal((await tb.admin('GET', '/admin/v0/whoami')).statusCode, 200)
    const refused = await tb.admin('GET', '/admin/v0/whoami')
    assert.equal(refused.statusCode, 429)
    assert.equal(refused.json().code, 'ERR_BROKER_RATE_LIMITED')
    assert.equal(refused.headers['retry-after'], '1')
    const other = await generateOwnerKey()
    await registerOwner(tb.context, other.publicJwk)
    assert.equal((await tb.admin('GET', '/admin/v0/whoami', undefined, other)).statusCode, 200)
    // An unauthenticated caller is refused for its credentials, not counted against an owner.
    const anonymous = await tb.app.inject({ method: 'GET', url: '/admin/v0/whoami' })
    assert.equal(anonymous.json().code, 'ERR_BROKER_UNAUTHENTICATED')
    now += 1000
    assert.equal((await tb.admin('GET', '/admin/v0/whoami')).statusCode, 200)
    const metrics = (await tb.app.inject({ method: 'GET', url: '/metrics' })).body
    assert.match(metrics, /^subrosa_rate_limited_total\{scope="owner"\} 1$/m)
  })
})
