import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { toBase64, toBase64Url, toHex } from '@subrosa/core'
import { decryptWithKey } from '@subrosa/protocol'
import { createLogger, REDACTED, redactLogEvent, requestIdOf } from './logging.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'
import { attestSim, SIM_MEASUREMENT } from './testing/sim-flow.ts'

const JWT =
  'eyJhbGciOiJFUzI1NiIsImtpZCI6IngifQ.eyJzdWIiOiJ3b3JrbG9hZCIsImV4cCI6MX0.MEUCIQDx1bV3p9-_aZ'

describe('redactLogEvent', () => {
  it('masks fields named like secrets whatever their value', () => {
    const out = redactLogEvent({
      event: 'x',
      secret: 'short',
      token: 'abc',
      apiKey: 'k',
      'private-key': 'p',
      authorization: 'Bearer z',
      Cookie: 'kbs-session-id=1',
      password: 'hunter2',
      share: '1-abc',
      recoveryShares: 3,
      client_secret: 'c',
    })
    for (const name of [
      'secret',
      'token',
      'apiKey',
      'private-key',
      'authorization',
      'Cookie',
      'password',
      'share',
      'recoveryShares',
      'client_secret',
    ])
      assert.equal(out[name], REDACTED, name)
    assert.equal(out.event, 'x')
  })

  it('keeps identifiers operators need', () => {
    const event = {
      event: 'http',
      route: '/kbs/v0/resource/:ns/:policy/:name',
      workload: 'acme/analytics/job',
      tokenId: 'jti-1',
      code: 'ERR_BROKER_RATE_LIMITED',
      requestId: '123e4567-e89b-12d3-a456-426614174000',
      status: 200,
      ok: true,
      attestationDecisionsTotal: 'camelCaseIdentifierLong',
    }
    assert.deepEqual(redactLogEvent(event), event)
  })

  it('masks JWTs, long hex and base64 inside any value', () => {
    const key = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff)
    const out = redactLogEvent({
      event: 'internal-error',
      message: `failed on ${JWT} with ${toHex(key)} and ${toBase64(key)} / ${toBase64Url(key)}`,
      note: 'x'.repeat(2000),
    })
    const message = String(out.message)
    assert.ok(!message.includes('eyJ'), message)
    assert.ok(!message.includes(toHex(key).slice(0, 16)), message)
    assert.ok(!message.includes(toBase64(key).slice(0, 16)), message)
    assert.ok(!message.includes(toBase64Url(key).slice(0, 16)), message)
    assert.match(message, /^failed on \[redacted\] with \[redacted\] and \[redacted\]/)
    assert.ok(String(out.note).length < 600)
  })

  it('drops undefined fields', () => {
    assert.deepEqual(redactLogEvent({ event: 'x', gone: undefined }), { event: 'x' })
  })
})

describe('createLogger', () => {
  it('writes one JSON line per event, redacted, and hands the event to observers', () => {
    const lines: string[] = []
    const seen: string[] = []
    const log = createLogger({
      write: (l) => lines.push(l),
      observe: (e) => seen.push(String(e.event)),
      now: () => new Date('2026-01-01T00:00:00Z'),
    })
    log({ event: 'a', token: JWT })
    assert.equal(lines.length, 1)
    assert.deepEqual(JSON.parse(lines[0] as string), {
      at: '2026-01-01T00:00:00.000Z',
      event: 'a',
      token: REDACTED,
    })
    assert.deepEqual(seen, ['a'])
  })
})

describe('requestIdOf', () => {
  it('keeps short safe ids and replaces anything else', () => {
    assert.equal(
      requestIdOf('abc-1', () => 'new'),
      'abc-1',
    )
    for (const bad of [undefined, 42, '', 'a b', 'x'.repeat(129), JWT, 'a'.repeat(40)])
      assert.equal(
        requestIdOf(bad, () => 'new'),
        'new',
        String(bad),
      )
  })
})

describe('broker logs carry no secret', () => {
  let tb: TestBroker
  const lines: string[] = []
  before(async () => {
    tb = await startTestBroker({ logLine: (l) => lines.push(l) })
  })
  after(() => tb.close())

  it('through an admin call, a release and a failed attestation', async () => {
    const applied = await tb.admin('POST', '/admin/v0/policies', {
      yaml: testPolicyYaml(tb.owner.id, SIM_MEASUREMENT),
    })
    assert.equal(applied.statusCode, 201)
    const key = await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name: 'taxi' })
    assert.equal(key.statusCode, 201)
    const ok = await attestSim(tb)
    assert.equal(ok.status, 200)
    const token = String(ok.body.token)
    const released: Uint8Array[] = []
    for (const name of ['db-token', 'pepper']) {
      const res = await tb.app.inject({
        method: 'GET',
        url: `/kbs/v0/resource/acme/analytics/${name}`,
        headers: { authorization: `Bearer ${token}`, 'x-request-id': `release-${name}` },
      })
      assert.equal(res.statusCode, 200)
      released.push(await decryptWithKey(res.json(), ok.teeKey))
    }
    const denied = await attestSim(tb, 'cd'.repeat(48))
    assert.equal(denied.status, 403)

    // The log saw each of these: the scan below is not over an empty log.
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>)
    assert.ok(events.some((e) => e.event === 'policy-change'))
    assert.ok(events.some((e) => e.event === 'secret-release'))
    assert.ok(events.some((e) => e.event === 'attestation' && e.decision === 'deny'))
    assert.ok(
      events.some(
        (e) => e.event === 'http' && e.requestId === 'release-db-token' && e.status === 200,
      ),
    )
    assert.ok(events.some((e) => e.route === '/admin/v0/keys' && e.status === 201))

    const text = lines.join('\n')
    const secrets = [...released, tb.context.keys.rootKey]
    for (const value of secrets) {
      for (const form of [toHex(value), toBase64(value), toBase64Url(value)]) {
        assert.ok(!text.includes(form), 'a secret reached the log')
        assert.ok(!text.includes(form.slice(0, 16)), 'part of a secret reached the log')
      }
    }
    for (const credential of [token, ok.cookie.split('=')[1] as string, token.split('.')[2]])
      assert.ok(!text.includes(credential as string), 'a credential reached the log')
  })
})
