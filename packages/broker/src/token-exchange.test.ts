import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  JWT_TOKEN_TYPE,
  TOKEN_EXCHANGE_GRANT_TYPE,
  teePublicKeyOf,
  verifyEarToken,
  verifyExchangedTokenClaims,
} from '@subrosa/protocol'
import { calculateJwkThumbprint, generateKeyPair, SignJWT } from 'jose'
import { listAudit } from './audit.ts'
import { publicJwks } from './state.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'
import { attestSim, SIM_MEASUREMENT } from './testing/sim-flow.ts'

const GRANTS = 'keys: ["acme/taxi:unwrap", "acme/results:wrap"]'

function exchangeBody(token: string, audience: string, extra: Record<string, string> = {}) {
  return {
    grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
    subject_token: token,
    subject_token_type: JWT_TOKEN_TYPE,
    audience,
    ...extra,
  }
}

describe('POST /v1/token/exchange', () => {
  let tb: TestBroker
  let ear: string
  let teeJkt: string

  const exchange = (body: unknown) =>
    tb.app.inject({ method: 'POST', url: '/v1/token/exchange', payload: body as object })
  const verify = (token: string, audience: string, now = tb.now()) =>
    verifyExchangedTokenClaims(token, {
      jwks: publicJwks(tb.context.keys.signingKey),
      issuer: tb.context.issuer,
      audience,
      now,
    })

  before(async () => {
    tb = await startTestBroker()
    const yaml = testPolicyYaml(tb.owner.id, SIM_MEASUREMENT).replace(
      GRANTS,
      `${GRANTS}\n    calls: [diagnostics, "spiffe://acme.test/billing"]`,
    )
    assert.notEqual(yaml, testPolicyYaml(tb.owner.id, SIM_MEASUREMENT))
    const applied = await tb.admin('POST', '/admin/v0/policies', { yaml })
    assert.equal(applied.statusCode, 201, applied.body)
    const attested = await attestSim(tb)
    assert.equal(attested.status, 200)
    ear = String(attested.body.token)
    const earClaims = await verifyEarToken(ear, {
      jwks: publicJwks(tb.context.keys.signingKey),
      issuer: tb.context.issuer,
      now: tb.now(),
    })
    const { x, y, crv, kty } = teePublicKeyOf(earClaims)
    teeJkt = await calculateJwkThumbprint({ kty, crv, x, y }, 'sha256')
  })
  after(() => tb.close())

  it('issues a five-minute token for a service the policy lists, bound to the TEE key', async () => {
    const res = await exchange(exchangeBody(ear, 'diagnostics'))
    assert.equal(res.statusCode, 200, res.body)
    assert.equal(res.headers['cache-control'], 'no-store')
    const body = res.json() as Record<string, unknown>
    assert.equal(body.issued_token_type, JWT_TOKEN_TYPE)
    assert.equal(body.token_type, 'Bearer')
    assert.equal(body.expires_in, 300)
    const claims = await verify(String(body.access_token), 'diagnostics')
    assert.equal(claims.sub, 'acme/analytics/job')
    assert.equal(claims.aud, 'diagnostics')
    assert.equal(claims.iss, tb.context.issuer)
    assert.equal(claims.exp - claims.iat, 300)
    assert.equal(claims.cnf?.jkt, teeJkt)
    assert.equal(claims['subrosa.workload'].workload, 'job')
    assert.equal(claims['subrosa.tee'], 'sim')
    assert.equal(claims['subrosa.insecure'], true)

    const again = (await exchange(exchangeBody(ear, 'diagnostics'))).json() as {
      access_token: string
    }
    assert.notEqual((await verify(again.access_token, 'diagnostics')).jti, claims.jti)

    const audit = (await listAudit(tb.context.db, {})).filter((e) => e.kind === 'token-exchange')
    const entry = audit.find((e) => e.data.tokenId === claims.jti)
    assert.ok(entry, 'the exchange is audited with the token id')
    assert.equal(entry.namespace, 'acme')
    assert.deepEqual(
      { workload: entry.data.workload, audience: entry.data.audience, decision: 'allow' },
      { workload: 'acme/analytics/job', audience: 'diagnostics', decision: entry.data.decision },
    )
    assert.ok(!JSON.stringify(audit).includes(ear.split('.')[2] as string), 'no token in audit')
    assert.ok(!JSON.stringify(audit).includes(String(body.access_token).split('.')[2] as string))
  })

  it('accepts the form encoding OAuth clients send, and refuses a repeated field', async () => {
    const form = new URLSearchParams(exchangeBody(ear, 'spiffe://acme.test/billing'))
    const res = await tb.app.inject({
      method: 'POST',
      url: '/v1/token/exchange',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form.toString(),
    })
    assert.equal(res.statusCode, 200, res.body)
    const token = (res.json() as { access_token: string }).access_token
    assert.equal(
      (await verify(token, 'spiffe://acme.test/billing')).aud,
      'spiffe://acme.test/billing',
    )

    form.append('audience', 'diagnostics')
    const twice = await tb.app.inject({
      method: 'POST',
      url: '/v1/token/exchange',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form.toString(),
    })
    assert.equal(twice.statusCode, 400)
    assert.equal(twice.json().code, 'ERR_PROTOCOL_MALFORMED')
  })

  it('refuses an audience the policy does not list, and audits the refusal', async () => {
    const res = await exchange(exchangeBody(ear, 'payments'))
    assert.equal(res.statusCode, 403)
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/)
    assert.equal(res.json().code, 'ERR_EXCHANGE_NOT_ALLOWED')
    const denied = (await listAudit(tb.context.db, {})).filter(
      (e) => e.kind === 'token-exchange' && e.data.decision === 'deny',
    )
    assert.ok(
      denied.some(
        (e) => e.data.audience === 'payments' && e.data.code === 'ERR_EXCHANGE_NOT_ALLOWED',
      ),
    )
  })

  it('refuses other grant types, token types, delegation and malformed audiences', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ grant_type: 'client_credentials' }, 'ERR_EXCHANGE_UNSUPPORTED'],
      [
        { subject_token_type: 'urn:ietf:params:oauth:token-type:access_token' },
        'ERR_EXCHANGE_UNSUPPORTED',
      ],
      [
        { requested_token_type: 'urn:ietf:params:oauth:token-type:saml2' },
        'ERR_EXCHANGE_UNSUPPORTED',
      ],
      [{ actor_token: ear, actor_token_type: JWT_TOKEN_TYPE }, 'ERR_EXCHANGE_UNSUPPORTED'],
      [{ scope: 'read' }, 'ERR_EXCHANGE_UNSUPPORTED'],
      [{ audience: 'two words' }, 'ERR_PROTOCOL_MALFORMED'],
    ]
    for (const [extra, code] of cases) {
      const res = await exchange({ ...exchangeBody(ear, 'diagnostics'), ...extra })
      assert.equal(res.statusCode, 400, JSON.stringify(extra))
      assert.equal(res.json().code, code, JSON.stringify(extra))
    }
  })

  it('refuses subject tokens that are forged, exchanged tokens, or expired', async () => {
    const { privateKey } = await generateKeyPair('ES256')
    const [, payload] = ear.split('.')
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString())
    const forged = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'ES256', kid: tb.context.keys.signingKey.kid as string })
      .sign(privateKey)
    const bad = await exchange(exchangeBody(forged, 'diagnostics'))
    assert.equal(bad.statusCode, 401)
    assert.equal(bad.json().code, 'ERR_TOKEN_SIGNATURE')

    const exchanged = (await exchange(exchangeBody(ear, 'diagnostics'))).json() as {
      access_token: string
    }
    const chained = await exchange(exchangeBody(exchanged.access_token, 'diagnostics'))
    assert.equal(chained.statusCode, 401)
    assert.equal(chained.json().code, 'ERR_TOKEN_CLAIMS')

    const start = tb.now()
    try {
      // 100 s before the subject token expires, the new token lives 100 s, not 300.
      tb.setNow(new Date(start.getTime() + (1800 - 100) * 1000))
      const short = await exchange(exchangeBody(ear, 'diagnostics'))
      assert.equal(short.statusCode, 200, short.body)
      assert.equal(short.json().expires_in, 100)
      tb.setNow(new Date(start.getTime() + 1801 * 1000))
      const late = await exchange(exchangeBody(ear, 'diagnostics'))
      assert.equal(late.statusCode, 401)
      assert.equal(late.json().code, 'ERR_TOKEN_EXPIRED')
    } finally {
      tb.setNow(start)
    }
  })

  it('issues tokens a downstream refuses for another audience and after they expire', async () => {
    const { access_token: token } = (await exchange(exchangeBody(ear, 'diagnostics'))).json() as {
      access_token: string
    }
    await assert.rejects(verify(token, 'spiffe://acme.test/billing'), {
      code: 'ERR_TOKEN_AUDIENCE',
    })
    await assert.rejects(verify(token, 'diagnostics', new Date(tb.now().getTime() + 301_000)), {
      code: 'ERR_TOKEN_EXPIRED',
    })
  })
})
