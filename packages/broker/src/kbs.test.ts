import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSimEvidence, generateSimPlatformKey } from '@subrosa/attest'
import { fromBase64, toHex } from '@subrosa/core'
import {
  decryptWithKey,
  type RuntimeData,
  reportDataFor,
  tlsCertificateSha256,
  verifyEarToken,
} from '@subrosa/protocol'
import { type CryptoKey, generateKeyPair, type JWK } from 'jose'
import { publicJwks } from './state.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { openKbsSession, sendEvidence } from './testing/kbs-session.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'

const MEASUREMENT = 'ab'.repeat(48)

type Attempt = { status: number; body: Record<string, unknown>; cookie: string; teeKey: CryptoKey }

async function attest(
  tb: TestBroker,
  options: {
    measurement?: string
    platformKey?: JWK
    debug?: boolean
    workload?: string
    mutate?: (rd: RuntimeData) => RuntimeData
    evidenceAt?: Date
    /** Bind this TLS certificate hash in the runtime data (and so in the evidence). */
    tlsCertSha256?: string
  } = {},
): Promise<Attempt> {
  const session = await openKbsSession(tb, 'sim', options.workload ?? 'acme/analytics/job')
  const { cookie, teeKey } = session
  const runtimeData: RuntimeData =
    options.tlsCertSha256 === undefined
      ? session.runtimeData
      : { ...session.runtimeData, 'tls-cert-sha256': options.tlsCertSha256 }
  const evidence = await createSimEvidence(
    {
      measurement: Buffer.from(options.measurement ?? MEASUREMENT, 'hex'),
      reportData: reportDataFor(runtimeData),
      debug: options.debug ?? false,
      svn: 1,
    },
    options.platformKey ?? tb.sim.privateJwk,
    options.evidenceAt ?? tb.now(),
  )
  const sent = options.mutate === undefined ? runtimeData : options.mutate(runtimeData)
  const res = await sendEvidence(tb, session, evidence, sent)
  return {
    status: res.statusCode,
    body: res.json() as Record<string, unknown>,
    cookie,
    teeKey,
  }
}

describe('KBS workload API', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker()
    const applied = await tb.admin('POST', '/admin/v0/policies', {
      yaml: testPolicyYaml(tb.owner.id, MEASUREMENT),
    })
    assert.equal(applied.statusCode, 201, applied.body)
  })
  after(() => tb.close())

  it('issues an EAR token for matching evidence and releases injection and secrets as JWEs', async () => {
    const a = await attest(tb)
    assert.equal(a.status, 200, JSON.stringify(a.body))
    const claims = await verifyEarToken(a.body.token, {
      jwks: publicJwks(tb.context.keys.signingKey),
      issuer: 'https://broker.test',
      now: tb.now(),
    })
    assert.equal(claims['subrosa.workload'].clause, 'workloads[0].accept[0]')
    assert.equal(claims['subrosa.insecure'], true)
    assert.equal(claims.submods.cpu0['ear.status'], 'warning')
    assert.equal(claims.submods.cpu0['ear.veraison.annotated-evidence'].measurement, MEASUREMENT)

    const bearer = { authorization: `Bearer ${String(a.body.token)}` }
    const injection = await tb.app.inject({
      method: 'GET',
      url: '/kbs/v0/workload',
      headers: bearer,
    })
    assert.equal(injection.statusCode, 200, injection.body)
    const plan = JSON.parse(
      new TextDecoder().decode(await decryptWithKey(injection.json(), a.teeKey)),
    )
    assert.equal(plan.env.TOKEN_FILE, '/run/subrosa/db-token')
    assert.match(plan.env.PEPPER_HEX, /^[0-9a-f]{32}$/)
    assert.equal(fromBase64(plan.files[0].content)?.length, 32)
    assert.deepEqual(plan.keys, ['acme/taxi:unwrap', 'acme/results:wrap'])

    const viaCookie = await tb.app.inject({
      method: 'GET',
      url: '/kbs/v0/resource/acme/analytics/pepper',
      headers: { cookie: a.cookie },
    })
    assert.equal(viaCookie.statusCode, 200, viaCookie.body)
    assert.equal(toHex(await decryptWithKey(viaCookie.json(), a.teeKey)), plan.env.PEPPER_HEX)
    const unused = await tb.app.inject({
      method: 'GET',
      url: '/kbs/v0/resource/acme/analytics/unused',
      headers: bearer,
    })
    assert.equal(unused.json().code, 'ERR_BROKER_FORBIDDEN')
  })

  it('denies a different measurement, naming the clause, and audits the decision', async () => {
    const a = await attest(tb, { measurement: 'cd'.repeat(48) })
    assert.equal(a.status, 403)
    assert.equal(a.body.code, 'ERR_POLICY_DENIED')
    assert.equal((a.body.details as { clause: string }).clause, 'workloads[0].accept')
    const audit = await tb.admin('GET', '/admin/v0/audit')
    const last = (audit.json().entries as { kind: string; data: Record<string, unknown> }[])
      .filter((e) => e.kind === 'attestation')
      .at(-1)
    assert.equal(last?.data.decision, 'deny')
    assert.equal(last?.data.measurement, 'cd'.repeat(48))
  })

  it('denies debug evidence when the policy says debug: deny', async () => {
    const a = await attest(tb, { debug: true })
    assert.equal(a.body.code, 'ERR_POLICY_DENIED')
  })

  it('refuses a reused nonce and an expired one', async () => {
    const a = await attest(tb)
    assert.equal(a.status, 200)
    const again = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/attest',
      headers: { cookie: a.cookie },
      payload: {
        'runtime-data': {
          nonce: 'x',
          'tee-pubkey': { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) },
        },
        'tee-evidence': { primary_evidence: 'x' },
      },
    })
    assert.equal(again.json().code, 'ERR_KBS_NONCE_USED')

    const auth = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.1.1', tee: 'sim', 'extra-params': { workload: 'acme/analytics/job' } },
    })
    const cookie = String(auth.headers['set-cookie']).split(';')[0] as string
    const start = tb.now()
    tb.setNow(new Date(start.getTime() + 121_000))
    try {
      const late = await tb.app.inject({
        method: 'POST',
        url: '/kbs/v0/attest',
        headers: { cookie },
        payload: {
          'runtime-data': {
            nonce: auth.json().nonce,
            'tee-pubkey': { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) },
          },
          'tee-evidence': { primary_evidence: 'x' },
        },
      })
      assert.equal(late.json().code, 'ERR_KBS_NONCE_EXPIRED')
    } finally {
      tb.setNow(start)
    }
    const none = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/attest',
      payload: {
        'runtime-data': {
          nonce: 'x',
          'tee-pubkey': { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'A'.repeat(43) },
        },
        'tee-evidence': { primary_evidence: 'x' },
      },
    })
    assert.equal(none.json().code, 'ERR_KBS_SESSION')
  })

  it('refuses evidence not bound to the runtime data, or from an untrusted platform key', async () => {
    const swapped = await attest(tb, {
      mutate: (rd) => ({
        ...rd,
        'tee-pubkey': { ...rd['tee-pubkey'], x: rd['tee-pubkey'].y, y: rd['tee-pubkey'].x },
      }),
    })
    assert.equal(swapped.body.code, 'ERR_KBS_BINDING')
    const wrongNonce = await attest(tb, { mutate: (rd) => ({ ...rd, nonce: `${rd.nonce}x` }) })
    assert.equal(wrongNonce.body.code, 'ERR_KBS_NONCE_MISMATCH')
    const stranger = await generateSimPlatformKey()
    const forged = await attest(tb, { platformKey: stranger.privateJwk })
    assert.equal(forged.body.code, 'ERR_ATTEST_UNTRUSTED_KEY')
    const stale = await attest(tb, { evidenceAt: new Date(tb.now().getTime() - 3_600_000) })
    assert.equal(stale.body.code, 'ERR_ATTEST_EXPIRED')
  })

  it('copies a bound TLS certificate hash into the token, and refuses one the evidence does not bind', async () => {
    const verify = (token: unknown) =>
      verifyEarToken(token, {
        jwks: publicJwks(tb.context.keys.signingKey),
        issuer: 'https://broker.test',
        now: tb.now(),
      })
    const certHash = tlsCertificateSha256(new TextEncoder().encode('service certificate'))
    const bound = await attest(tb, { tlsCertSha256: certHash })
    assert.equal(bound.status, 200, JSON.stringify(bound.body))
    assert.equal((await verify(bound.body.token))['subrosa.tls-cert-sha256'], certHash)
    const plain = await attest(tb)
    assert.equal(plain.status, 200, JSON.stringify(plain.body))
    assert.equal((await verify(plain.body.token))['subrosa.tls-cert-sha256'], undefined)

    const other = tlsCertificateSha256(new TextEncoder().encode('another certificate'))
    const swapped = await attest(tb, {
      tlsCertSha256: certHash,
      mutate: (rd) => ({ ...rd, 'tls-cert-sha256': other }),
    })
    assert.equal(swapped.body.code, 'ERR_KBS_BINDING')
    const added = await attest(tb, { mutate: (rd) => ({ ...rd, 'tls-cert-sha256': other }) })
    assert.equal(added.body.code, 'ERR_KBS_BINDING')
    const dropped = await attest(tb, {
      tlsCertSha256: certHash,
      mutate: ({ 'tls-cert-sha256': _dropped, ...rd }) => rd,
    })
    assert.equal(dropped.body.code, 'ERR_KBS_BINDING')
  })

  it('rejects tokens signed by another key, and tokens of a superseded policy', async () => {
    const a = await attest(tb)
    const token = String(a.body.token)
    const [h, p] = token.split('.') as [string, string]
    const { privateKey } = await generateKeyPair('ES256')
    const { CompactSign } = await import('jose')
    const resigned = await new CompactSign(
      new TextEncoder().encode(Buffer.from(p, 'base64url').toString()),
    )
      .setProtectedHeader(JSON.parse(Buffer.from(h, 'base64url').toString()))
      .sign(privateKey)
    const forged = await tb.app.inject({
      method: 'GET',
      url: '/kbs/v0/workload',
      headers: { authorization: `Bearer ${resigned}` },
    })
    assert.equal(forged.json().code, 'ERR_TOKEN_SIGNATURE')

    const current = await tb.admin('GET', '/admin/v0/policies/acme/analytics')
    const updated = await tb.admin('POST', '/admin/v0/policies', {
      yaml: testPolicyYaml(tb.owner.id, MEASUREMENT, {
        predecessor: current.json().hash,
        debug: 'allow',
      }),
    })
    assert.equal(updated.statusCode, 201, updated.body)
    const stale = await tb.app.inject({
      method: 'GET',
      url: '/kbs/v0/workload',
      headers: { authorization: `Bearer ${token}` },
    })
    assert.equal(stale.json().code, 'ERR_TOKEN_STALE')
    assert.equal((await attest(tb)).status, 200)
  })

  it('refuses the sim TEE when the broker does not allow it, naming broker.allowSim', async () => {
    const strict = await startTestBroker({ allowSim: false })
    try {
      await strict.admin('POST', '/admin/v0/policies', {
        yaml: testPolicyYaml(strict.owner.id, MEASUREMENT),
      })
      const a = await attest(strict)
      assert.equal(a.body.code, 'ERR_POLICY_DENIED')
      assert.equal((a.body.details as { clause: string }).clause, 'broker.allowSim')
    } finally {
      await strict.close()
    }
  })

  it('answers malformed requests with typed problems', async () => {
    const bad = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      headers: { 'content-type': 'application/json' },
      payload: '{"version":',
    })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.json().code, 'ERR_PROTOCOL_MALFORMED')
    assert.match(String(bad.headers['content-type']), /^application\/problem\+json/)
    const old = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.0.1', tee: 'sim', 'extra-params': { workload: 'acme/analytics/job' } },
    })
    assert.equal(old.json().code, 'ERR_KBS_VERSION')
    const noWorkload = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: { version: '0.1.1', tee: 'sim', 'extra-params': { workload: '../../etc' } },
    })
    assert.equal(noWorkload.json().code, 'ERR_PROTOCOL_MALFORMED')
    const huge = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/attest',
      headers: { 'content-type': 'application/json' },
      payload: `{"a":"${'x'.repeat(2 << 20)}"}`,
    })
    assert.equal(huge.statusCode, 413)
    assert.equal(huge.json().code, 'ERR_BROKER_BODY_TOO_LARGE')
    const noAuth = await tb.app.inject({ method: 'GET', url: '/kbs/v0/workload' })
    assert.equal(noAuth.json().code, 'ERR_BROKER_UNAUTHENTICATED')
  })
})
