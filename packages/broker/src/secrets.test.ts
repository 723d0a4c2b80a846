import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, hkdfSync, X509Certificate } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { fromBase64, fromUtf8, toBase64, toHex, utf8 } from '@subrosa/core'
import { decryptWithKey } from '@subrosa/protocol'
import type { CryptoKey } from 'jose'
import { listAudit } from './audit.ts'
import { loadSecret } from './secrets.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { attestSim } from './testing/sim-flow.ts'

const MEASUREMENT = 'ab'.repeat(48)
const REPORTING = 'cd'.repeat(48)
const SPIFFE = 'spiffe://acme.test/pipeline/job-a'
const IMPORTED = utf8('s3cr3t-api-token-from-the-owner')

function pipelineYaml(owner: string, uri = SPIFFE, predecessor = 'null'): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: pipeline, predecessor: ${predecessor} }
owners: { threshold: 1, keys: ["${owner}"] }
workloads:
  - name: job-a
    accept: [{ tee: sim, measurement: "${MEASUREMENT}" }]
    inject:
      env:
        CERT_PEM: "{{secret:mtls.cert}}"
        SIGN_PUB: "{{secret:sign.public}}"
        WRAP_PUB: "{{secret:wrap.public}}"
      files:
        /run/subrosa/tls/key.pem: "{{secret:mtls.private}}"
        /run/subrosa/tls/ca.pem: "{{secret:mtls.ca}}"
        /run/subrosa/sign.pem: "{{secret:sign.private}}"
      args: ["--token={{secret:api-token:hex}}", "--derived={{secret:per-job:hex}}"]
  - name: job-b
    accept: [{ tee: sim, measurement: "${MEASUREMENT}" }]
    inject:
      args: ["--derived={{secret:per-job:hex}}"]
secrets:
  - { name: seed, generate: { bytes: 32 } }
  - { name: sign, generate: { type: ec, curve: P-384 } }
  - { name: wrap, generate: { type: rsa, bits: 2048 } }
  - name: mtls
    generate: { type: x509, uri: "${uri}", dns: [job-a.acme.svc], days: 30 }
  - { name: api-token, import: true }
  - { name: per-job, derive: { from: seed, info: "db-password v1" } }
  - { name: shared, generate: { bytes: 16 } }
grants: [{ secret: shared, to: acme/reporting }]
`
}

function reportingYaml(owner: string): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: reporting, predecessor: null }
owners: { threshold: 1, keys: ["${owner}"] }
workloads:
  - name: rep
    accept: [{ tee: sim, measurement: "${REPORTING}" }]
`
}

async function attestAs(
  tb: TestBroker,
  workload: string,
  measurement: string,
): Promise<{ token: string; teeKey: CryptoKey }> {
  const res = await attestSim(tb, measurement, workload)
  assert.equal(res.status, 200, JSON.stringify(res.body))
  return { token: res.body.token as string, teeKey: res.teeKey }
}

type Plan = {
  env: Record<string, string>
  files: { path: string; content: string }[]
  args?: string[]
}

async function injection(
  tb: TestBroker,
  workload: string,
): Promise<{ status: number; code?: string; plan?: Plan }> {
  const a = await attestAs(tb, workload, MEASUREMENT)
  const res = await tb.app.inject({
    method: 'GET',
    url: '/kbs/v0/workload',
    headers: { authorization: `Bearer ${a.token}` },
  })
  if (res.statusCode !== 200) return { status: res.statusCode, code: res.json().code }
  return {
    status: 200,
    plan: JSON.parse(fromUtf8(await decryptWithKey(res.json(), a.teeKey))) as Plan,
  }
}

function file(plan: Plan, path: string): string {
  const f = plan.files.find((x) => x.path === path)
  assert.ok(f, `no injected file ${path}`)
  return fromUtf8(fromBase64(f.content) as Uint8Array)
}

describe('secret kinds, import, derivation and args', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker()
    for (const yaml of [pipelineYaml(tb.owner.id), reportingYaml(tb.owner.id)]) {
      const applied = await tb.admin('POST', '/admin/v0/policies', { yaml })
      assert.equal(applied.statusCode, 201, applied.body)
    }
  })
  after(() => tb.close())

  it('refuses the injection while an imported secret has no value', async () => {
    const r = await injection(tb, 'acme/pipeline/job-a')
    assert.deepEqual([r.status, r.code], [404, 'ERR_BROKER_NOT_FOUND'])
    // The resource route reads the row with the token's checks: absent reads as absent too.
    const a = await attestAs(tb, 'acme/pipeline/job-a', MEASUREMENT)
    const res = await tb.app.inject({
      method: 'GET',
      url: '/kbs/v0/resource/acme/pipeline/api-token',
      headers: { authorization: `Bearer ${a.token}` },
    })
    assert.deepEqual([res.statusCode, res.json().code], [404, 'ERR_BROKER_NOT_FOUND'])
  })

  it('imports an owner-supplied value, audited by length only, and refuses bad imports', async () => {
    const url = '/admin/v0/secrets/acme/pipeline/api-token'
    const first = await tb.admin('PUT', url, { value: toBase64(IMPORTED) })
    assert.equal(first.statusCode, 200, first.body)
    assert.deepEqual(first.json(), {
      namespace: 'acme',
      policy: 'pipeline',
      name: 'api-token',
      bytes: IMPORTED.length,
      replaced: false,
    })
    const again = await tb.admin('PUT', url, { value: toBase64(IMPORTED) })
    assert.equal(again.json().replaced, true)

    const refusals: [string, unknown, number, string][] = [
      ['/admin/v0/secrets/acme/pipeline/seed', { value: 'AAAA' }, 409, 'ERR_BROKER_SECRET_KIND'],
      ['/admin/v0/secrets/acme/pipeline/per-job', { value: 'AAAA' }, 409, 'ERR_BROKER_SECRET_KIND'],
      ['/admin/v0/secrets/acme/pipeline/nope', { value: 'AAAA' }, 404, 'ERR_BROKER_NOT_FOUND'],
      ['/admin/v0/secrets/acme/other/api-token', { value: 'AAAA' }, 404, 'ERR_BROKER_NOT_FOUND'],
      [url, { value: 'not base64!' }, 400, 'ERR_BROKER_SECRET_VALUE'],
      [url, { value: '' }, 400, 'ERR_BROKER_SECRET_VALUE'],
      [url, { value: 'AAAA', extra: 1 }, 400, 'ERR_PROTOCOL_MALFORMED'],
    ]
    for (const [at, body, status, code] of refusals) {
      const res = await tb.admin('PUT', at, body)
      assert.deepEqual([res.statusCode, res.json().code], [status, code], `${at} ${res.body}`)
    }
    const unsigned = await tb.app.inject({
      method: 'PUT',
      url,
      headers: { 'content-type': 'application/json' },
      payload: { value: 'AAAA' },
    })
    assert.equal(unsigned.statusCode, 401)

    const imports = (await listAudit(tb.context.db, {})).filter((e) => e.kind === 'secret.import')
    assert.equal(imports.length, 2)
    assert.deepEqual(imports[0]?.data, {
      policy: 'pipeline',
      secret: 'api-token',
      bytes: IMPORTED.length,
      replaced: false,
      by: tb.owner.id,
    })
  })

  it('injects key pairs, a CA-issued SPIFFE certificate, the imported value and per-workload derived values', async () => {
    const a = await injection(tb, 'acme/pipeline/job-a')
    assert.equal(a.status, 200, a.code)
    const plan = a.plan as Plan

    // X.509: issued by the broker CA, SPIFFE URI SAN, DNS SAN, key matches, 30 days.
    const cert = new X509Certificate(plan.env.CERT_PEM as string)
    const ca = new X509Certificate(tb.context.keys.ca.certPem)
    assert.equal(file(plan, '/run/subrosa/tls/ca.pem'), tb.context.keys.ca.certPem)
    assert.ok(cert.checkIssued(ca))
    assert.ok(cert.verify(ca.publicKey))
    assert.equal(cert.ca, false)
    assert.equal(cert.subjectAltName, `URI:${SPIFFE}, DNS:job-a.acme.svc`)
    assert.ok(cert.checkPrivateKey(createPrivateKey(file(plan, '/run/subrosa/tls/key.pem'))))
    assert.equal(
      new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime(),
      30 * 86_400_000,
    )
    const stranger = new X509Certificate((await startStrangerCa()).certPem)
    assert.equal(cert.verify(stranger.publicKey), false)

    // EC P-384 and RSA 2048 key pairs: PKCS#8 private, SPKI public, matching.
    const sign = createPrivateKey(file(plan, '/run/subrosa/sign.pem'))
    assert.equal(sign.asymmetricKeyDetails?.namedCurve, 'secp384r1')
    assert.match(file(plan, '/run/subrosa/sign.pem'), /^-----BEGIN PRIVATE KEY-----\n/)
    assert.equal(createPublicKey(sign).export({ type: 'spki', format: 'pem' }), plan.env.SIGN_PUB)
    assert.equal(
      createPublicKey(plan.env.WRAP_PUB as string).asymmetricKeyDetails?.modulusLength,
      2048,
    )

    // Args: the imported value, and HKDF of the seed bound to the workload identity.
    const seed = await loadSecret(tb.context, 'acme', 'pipeline', 'seed')
    const expected = (workload: string) =>
      toHex(
        new Uint8Array(
          hkdfSync(
            'sha256',
            seed.value,
            utf8('subrosa/derive/v1'),
            utf8(`db-password v1\u0000acme/pipeline/per-job\u0000acme/pipeline/${workload}`),
            32,
          ),
        ),
      )
    assert.deepEqual(plan.args, [`--token=${toHex(IMPORTED)}`, `--derived=${expected('job-a')}`])
    const b = await injection(tb, 'acme/pipeline/job-b')
    assert.deepEqual(b.plan?.args, [`--derived=${expected('job-b')}`])
    assert.notEqual(expected('job-a'), expected('job-b'))
    const again = await injection(tb, 'acme/pipeline/job-a')
    assert.deepEqual(again.plan?.args, plan.args)
  })

  it('releases a certificate resource as the JSON of its PEM parts', async () => {
    const a = await attestAs(tb, 'acme/pipeline/job-a', MEASUREMENT)
    const res = await tb.app.inject({
      method: 'GET',
      url: '/kbs/v0/resource/acme/pipeline/mtls',
      headers: { authorization: `Bearer ${a.token}` },
    })
    assert.equal(res.statusCode, 200, res.body)
    const parts = JSON.parse(fromUtf8(await decryptWithKey(res.json(), a.teeKey)))
    assert.deepEqual(Object.keys(parts).sort(), ['ca', 'cert', 'private', 'public'])
    assert.ok(new X509Certificate(parts.cert).checkPrivateKey(createPrivateKey(parts.private)))
  })

  it('refuses a secret that was not granted with ERR_BROKER_FORBIDDEN and a secret.deny entry', async () => {
    const rep = await attestAs(tb, 'acme/reporting/rep', REPORTING)
    const get = (name: string) =>
      tb.app.inject({
        method: 'GET',
        url: `/kbs/v0/resource/acme/pipeline/${name}`,
        headers: { authorization: `Bearer ${rep.token}` },
      })
    const granted = await get('shared')
    assert.equal(granted.statusCode, 200, granted.body)
    const denied = await get('seed')
    assert.deepEqual([denied.statusCode, denied.json().code], [403, 'ERR_BROKER_FORBIDDEN'])
    const entries = await listAudit(tb.context.db, {})
    const deny = entries.filter((e) => e.kind === 'secret.deny')
    assert.equal(deny.length, 1)
    assert.equal(deny[0]?.namespace, 'acme')
    assert.equal(deny[0]?.data.secret, 'acme/pipeline/seed')
    assert.equal(deny[0]?.data.to, 'acme/reporting/rep')
    assert.equal(deny[0]?.data.code, 'ERR_BROKER_FORBIDDEN')
    const release = entries.filter((e) => e.kind === 'secret.release' && e.data.via === 'grant')
    assert.equal(release.length, 1)
  })

  it('issues the certificate anew when its spec changes, and keeps it when the policy is re-applied', async () => {
    const before = await loadSecret(tb.context, 'acme', 'pipeline', 'mtls')
    const sign = await loadSecret(tb.context, 'acme', 'pipeline', 'sign')
    const current = await tb.admin('GET', '/admin/v0/policies/acme/pipeline')
    const hash = current.json().hash as string
    const same = await tb.admin('POST', '/admin/v0/policies', { yaml: pipelineYaml(tb.owner.id) })
    assert.equal(same.json().created, false)
    const uri = 'spiffe://acme.test/pipeline/job-a-v2'
    const updated = await tb.admin('POST', '/admin/v0/policies', {
      yaml: pipelineYaml(tb.owner.id, uri, `"${hash}"`),
    })
    assert.equal(updated.statusCode, 201, updated.body)
    const after = await loadSecret(tb.context, 'acme', 'pipeline', 'mtls')
    const cert = new X509Certificate(JSON.parse(fromUtf8(after.value)).cert)
    assert.equal(cert.subjectAltName, `URI:${uri}, DNS:job-a.acme.svc`)
    assert.notDeepEqual(after.value, before.value)
    assert.deepEqual((await loadSecret(tb.context, 'acme', 'pipeline', 'sign')).value, sign.value)
    const generated = (await listAudit(tb.context.db, {})).filter(
      (e) => e.kind === 'secret.generate' && e.data.secret === 'mtls',
    )
    assert.deepEqual(
      generated.map((e) => e.data.replaced),
      [false, true],
    )
  })

  it('lists declared secrets with their kind, state and public parts only', async () => {
    const res = await tb.admin('GET', '/admin/v0/secrets/acme/pipeline')
    assert.equal(res.statusCode, 200, res.body)
    const list = res.json().secrets as {
      name: string
      kind: string
      stored: boolean
      public?: string
      cert?: string
    }[]
    assert.deepEqual(
      list.map((s) => [s.name, s.kind, s.stored]),
      [
        ['seed', 'bytes', true],
        ['sign', 'ec', true],
        ['wrap', 'rsa', true],
        ['mtls', 'x509', true],
        ['api-token', 'import', true],
        ['per-job', 'derive', false],
        ['shared', 'bytes', true],
      ],
    )
    const sign = JSON.parse(
      fromUtf8((await loadSecret(tb.context, 'acme', 'pipeline', 'sign')).value),
    )
    assert.equal(list[1]?.public, sign.public)
    assert.match(list[3]?.cert ?? '', /^-----BEGIN CERTIFICATE-----/)
    assert.doesNotMatch(res.body, /PRIVATE KEY/)
    assert.ok(!res.body.includes(toHex(IMPORTED)) && !res.body.includes(toBase64(IMPORTED)))
    const missing = await tb.admin('GET', '/admin/v0/secrets/acme/nope')
    assert.equal(missing.json().code, 'ERR_BROKER_NOT_FOUND')
  })

  it('keeps secret values out of the audit log and the stored rows', async () => {
    const audit = JSON.stringify(await listAudit(tb.context.db, {}))
    const rows = (
      await tb.context.db.query<{ sealed: Uint8Array; meta: unknown }>(
        'SELECT sealed, meta FROM secrets',
      )
    ).rows
    const stored = rows.map((r) => `${toHex(r.sealed)} ${JSON.stringify(r.meta)}`).join('\n')
    const mtls = JSON.parse(
      fromUtf8((await loadSecret(tb.context, 'acme', 'pipeline', 'mtls')).value),
    )
    const keyBody = String(mtls.private).split('\n')[1] as string
    for (const needle of [toHex(IMPORTED), toBase64(IMPORTED), fromUtf8(IMPORTED), keyBody]) {
      assert.ok(!audit.includes(needle), 'audit holds a secret')
      assert.ok(!stored.includes(needle), 'stored rows hold a secret in the clear')
    }
    assert.ok(stored.includes('BEGIN CERTIFICATE'), 'public certificate kept in meta')
  })
})

async function startStrangerCa() {
  const { createCa } = await import('./ca.ts')
  return createCa(new Date('2026-11-01T00:00:00Z'), new Uint8Array(16).fill(7))
}

describe('certificate renewal', () => {
  let tb: TestBroker
  const start = new Date('2026-11-22T12:00:00Z')
  before(async () => {
    tb = await startTestBroker({ start })
    const applied = await tb.admin('POST', '/admin/v0/policies', {
      yaml: `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: mesh, predecessor: null }
owners: { threshold: 1, keys: ["${tb.owner.id}"] }
workloads:
  - name: svc
    accept: [{ tee: sim, measurement: "${MEASUREMENT}" }]
    inject:
      files: { /run/subrosa/tls.pem: "{{secret:tls.cert}}" }
secrets:
  - { name: tls, generate: { type: x509, keyType: rsa-2048, uri: "spiffe://acme.test/mesh/svc", days: 30 } }
`,
    })
    assert.equal(applied.statusCode, 201, applied.body)
  })
  after(() => tb.close())

  const certAt = async (days: number): Promise<X509Certificate> => {
    tb.setNow(new Date(start.getTime() + days * 86_400_000))
    const r = await injection(tb, 'acme/mesh/svc')
    assert.equal(r.status, 200, r.code)
    return new X509Certificate(file(r.plan as Plan, '/run/subrosa/tls.pem'))
  }

  it('keeps a certificate with more than a third of its validity left, then issues a new one', async () => {
    const first = await certAt(0)
    assert.equal(first.serialNumber, (await certAt(19)).serialNumber)
    const renewed = await certAt(21)
    assert.notEqual(renewed.serialNumber, first.serialNumber)
    assert.equal(new Date(renewed.validFrom).getTime(), start.getTime() + 21 * 86_400_000)
    assert.ok(renewed.verify(new X509Certificate(tb.context.keys.ca.certPem).publicKey))
    assert.equal(renewed.subjectAltName, 'URI:spiffe://acme.test/mesh/svc')
    assert.equal(renewed.publicKey.asymmetricKeyDetails?.modulusLength, 2048)
    assert.equal((await certAt(22)).serialNumber, renewed.serialNumber)
    const audit = (await listAudit(tb.context.db, {})).filter(
      (e) => e.kind === 'secret.generate' && e.data.renewed === true,
    )
    assert.equal(audit.length, 1)
  })
})
