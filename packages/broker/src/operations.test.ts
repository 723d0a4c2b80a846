import assert from 'node:assert/strict'
import { type AddressInfo, createConnection } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { toBase64 } from '@subrosa/core'
import type { InjectOptions } from 'fastify'
import { operationsOf } from './app.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { openKbsSession, sendEvidence } from './testing/kbs-session.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'
import { attestSim, SIM_MEASUREMENT } from './testing/sim-flow.ts'

const PROBLEM = /^application\/problem\+json/

describe('health and readiness', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker()
  })
  after(() => tb.close())

  it('answers /healthz and /readyz while serving', async () => {
    assert.equal((await tb.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    const ready = await tb.app.inject({ method: 'GET', url: '/readyz' })
    assert.equal(ready.statusCode, 200)
    assert.deepEqual(ready.json().checks, { store: true, unsealed: true, draining: false })
  })

  it('answers /readyz 503 while draining, /healthz still 200', async () => {
    const ops = operationsOf(tb.app)
    ops.draining = true
    try {
      const res = await tb.app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(res.statusCode, 503)
      assert.match(String(res.headers['content-type']), PROBLEM)
      assert.equal(res.json().code, 'ERR_BROKER_UNAVAILABLE')
      assert.equal(res.json().details.draining, true)
      assert.equal((await tb.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    } finally {
      ops.draining = false
    }
  })

  it('answers 503 to new requests once closing', async () => {
    const ops = operationsOf(tb.app)
    ops.closing = true
    try {
      const res = await tb.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
      assert.equal(res.statusCode, 503)
      assert.equal(res.json().code, 'ERR_BROKER_UNAVAILABLE')
      assert.equal(res.headers.connection, 'close')
    } finally {
      ops.closing = false
    }
  })

  it('answers /readyz 503 when the store is unreachable', async () => {
    const other = await startTestBroker()
    await other.store.close()
    try {
      const res = await other.app.inject({ method: 'GET', url: '/readyz' })
      assert.equal(res.statusCode, 503)
      assert.equal(res.json().code, 'ERR_BROKER_UNAVAILABLE')
      assert.equal(res.json().details.store, false)
      assert.equal((await other.app.inject({ method: 'GET', url: '/healthz' })).statusCode, 200)
    } finally {
      await other.app.close()
    }
  })
})

describe('problem answers for every kind of refusal', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker()
  })
  after(() => tb.close())

  const cases: [string, InjectOptions, number, string][] = [
    ['unknown path', { method: 'GET', url: '/nope' }, 404, 'ERR_BROKER_NOT_FOUND'],
    ['unknown admin path', { method: 'POST', url: '/admin/v0/x' }, 404, 'ERR_BROKER_NOT_FOUND'],
    ['wrong method', { method: 'GET', url: '/kbs/v0/auth' }, 405, 'ERR_BROKER_METHOD_NOT_ALLOWED'],
    [
      'wrong method on a templated route',
      { method: 'DELETE', url: '/kbs/v0/resource/a/b/c' },
      405,
      'ERR_BROKER_METHOD_NOT_ALLOWED',
    ],
    [
      'body too large',
      {
        method: 'POST',
        url: '/admin/v0/keys',
        headers: { 'content-type': 'application/json' },
        payload: `"${'x'.repeat((1 << 20) + 10)}"`,
      },
      413,
      'ERR_BROKER_BODY_TOO_LARGE',
    ],
    [
      'text body',
      {
        method: 'POST',
        url: '/kbs/v0/auth',
        headers: { 'content-type': 'text/plain' },
        payload: '{"version":"0.1.1"}',
      },
      415,
      'ERR_BROKER_MEDIA_TYPE',
    ],
    [
      'form body',
      {
        method: 'POST',
        url: '/admin/v0/keys',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: 'a=b',
      },
      415,
      'ERR_BROKER_MEDIA_TYPE',
    ],
    [
      'broken JSON',
      {
        method: 'POST',
        url: '/kbs/v0/auth',
        headers: { 'content-type': 'application/json' },
        payload: '{',
      },
      400,
      'ERR_PROTOCOL_MALFORMED',
    ],
  ]
  for (const [name, request, status, code] of cases) {
    it(`${name}: ${status} ${code}`, async () => {
      const res = await tb.app.inject(request)
      assert.equal(res.statusCode, status, res.body)
      assert.match(String(res.headers['content-type']), PROBLEM)
      const body = res.json()
      assert.equal(body.code, code)
      assert.equal(body.title, code)
      assert.equal(body.status, status)
      assert.equal(body.type, `urn:subrosa:error:${code}`)
      assert.ok(res.headers['x-request-id'])
    })
  }

  it('answers a URL that does not decode with a problem', async () => {
    const res = await tb.app.inject({ method: 'GET', url: '/kbs/v0/resource/%zz/a/b' })
    assert.equal(res.statusCode, 400)
    assert.match(String(res.headers['content-type']), PROBLEM)
    assert.equal(res.json().code, 'ERR_PROTOCOL_MALFORMED')
  })

  it('answers bytes that are not HTTP, and oversized headers, with a problem', async () => {
    const other = await startTestBroker()
    try {
      await other.app.listen({ host: '127.0.0.1', port: 0 })
      const { port } = other.app.server.address() as AddressInfo
      const exchange = (bytes: string) =>
        new Promise<string>((resolve, reject) => {
          let text = ''
          const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write(bytes))
          socket.on('data', (d: Buffer) => {
            text += d.toString()
          })
          socket.on('end', () => resolve(text))
          socket.on('error', reject)
        })
      const garbage = await exchange('NOT HTTP AT ALL\r\n\r\n')
      assert.match(garbage, /^HTTP\/1\.1 400 /)
      assert.match(garbage, /content-type: application\/problem\+json/)
      assert.equal(JSON.parse(garbage.split('\r\n\r\n')[1] ?? '').code, 'ERR_PROTOCOL_MALFORMED')
      const huge = await exchange(`GET /healthz HTTP/1.1\r\nx-big: ${'a'.repeat(20_000)}\r\n\r\n`)
      assert.match(huge, /^HTTP\/1\.1 431 /)
      assert.equal(JSON.parse(huge.split('\r\n\r\n')[1] ?? '').status, 431)
    } finally {
      await other.close()
    }
  })

  it('names the allowed methods on 405', async () => {
    const res = await tb.app.inject({ method: 'PUT', url: '/admin/v0/policies' })
    assert.equal(res.headers.allow, 'POST')
    const get = await tb.app.inject({ method: 'POST', url: '/admin/v0/policies/acme/x' })
    assert.equal(get.headers.allow, 'GET, HEAD')
  })

  it('echoes a well-formed x-request-id and replaces one that could carry a secret', async () => {
    const mine = await tb.app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'req-42.a' },
    })
    assert.equal(mine.headers['x-request-id'], 'req-42.a')
    const jwtLike = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl'
    for (const bad of [jwtLike, 'a'.repeat(200), 'line\nbreak', 'Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5']) {
      const res = await tb.app.inject({
        method: 'GET',
        url: '/nope',
        headers: { 'x-request-id': bad },
      })
      const id = String(res.headers['x-request-id'])
      assert.notEqual(id, bad)
      assert.match(id, /^[0-9a-f-]{36}$/)
    }
  })
})

describe('GET /metrics', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker()
    const applied = await tb.admin('POST', '/admin/v0/policies', {
      yaml: testPolicyYaml(tb.owner.id, SIM_MEASUREMENT),
    })
    assert.equal(applied.statusCode, 201, applied.body)
  })
  after(() => tb.close())

  it('counts requests by route template, decisions, releases and policy changes', async () => {
    const ok = await attestSim(tb)
    assert.equal(ok.status, 200)
    const denied = await attestSim(tb, 'cd'.repeat(48))
    assert.equal(denied.status, 403)
    const token = String(ok.body.token)
    for (const name of ['db-token', 'pepper']) {
      const res = await tb.app.inject({
        method: 'GET',
        url: `/kbs/v0/resource/acme/analytics/${name}`,
        headers: { authorization: `Bearer ${token}` },
      })
      assert.equal(res.statusCode, 200)
    }
    await tb.app.inject({ method: 'GET', url: '/nope/at/all' })
    assert.equal(
      (await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name: 'taxi' })).statusCode,
      201,
    )
    const wrapped = await tb.admin('POST', '/kms/v0/wrap', {
      masterKeyId: 'subrosa:acme/taxi',
      key: toBase64(new Uint8Array(16).fill(7)),
    })
    assert.equal(wrapped.statusCode, 200, wrapped.body)
    const unwrapped = await tb.app.inject({
      method: 'POST',
      url: '/kms/v0/unwrap',
      headers: { authorization: `Bearer ${token}` },
      payload: { masterKeyId: 'subrosa:acme/taxi', wrapped: wrapped.json().wrapped },
    })
    assert.equal(unwrapped.statusCode, 200, unwrapped.body)

    const res = await tb.app.inject({ method: 'GET', url: '/metrics' })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
    const text = res.body
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `))
      return line === undefined ? undefined : Number(line.slice(series.length + 1))
    }
    assert.equal(value('subrosa_attestation_decisions_total{outcome="allow",tee="sim"}'), 1)
    assert.equal(value('subrosa_attestation_decisions_total{outcome="deny",tee="sim"}'), 1)
    assert.equal(value('subrosa_releases_total{kind="policy"}'), 2)
    assert.equal(value('subrosa_releases_total{kind="kms"}'), 1)
    assert.equal(value('subrosa_policy_changes_total'), 1)
    assert.equal(
      value(
        'subrosa_http_requests_total{route="/kbs/v0/resource/:ns/:policy/:name",method="GET",status="200"}',
      ),
      2,
    )
    assert.equal(
      value('subrosa_http_requests_total{route="/kbs/v0/attest",method="POST",status="403"}'),
      1,
    )
    assert.equal(
      value('subrosa_http_requests_total{route="unmatched",method="GET",status="404"}'),
      1,
    )
    assert.equal(
      value(
        'subrosa_http_request_duration_seconds_count{route="/kbs/v0/resource/:ns/:policy/:name",method="GET"}',
      ),
      2,
    )
    assert.equal(
      value(
        'subrosa_http_request_duration_seconds_bucket{route="/kbs/v0/attest",method="POST",le="+Inf"}',
      ),
      2,
    )
    assert.equal(value('subrosa_releases_total{kind="grant"}'), 0, 'present before any grant')
    assert.equal(value('subrosa_rate_limited_total{scope="ip"}'), 0)
    assert.ok((value('process_resident_memory_bytes') ?? 0) > 0)
    assert.ok(value('process_cpu_user_seconds_total') !== undefined)
    // Bounded labels: no secret names, raw URLs, session ids or tokens.
    for (const leak of ['db-token', 'pepper', '/nope', token.slice(0, 20), ok.cookie.split('=')[1]])
      assert.ok(!text.includes(String(leak)), `metrics must not contain ${leak}`)
  })

  it('counts a TEE name the client made up as other', async () => {
    const session = await openKbsSession(tb, 'made-up-tee-1234', 'acme/analytics/job')
    const res = await sendEvidence(tb, session, { not: 'evidence' })
    assert.equal(res.statusCode, 400)
    const text = (await tb.app.inject({ method: 'GET', url: '/metrics' })).body
    assert.ok(!text.includes('made-up-tee'))
    assert.match(text, /^subrosa_attestation_decisions_total\{outcome="error",tee="other"\} 1$/m)
  })
})
