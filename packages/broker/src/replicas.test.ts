import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { createSimEvidence, generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { systemRandom, toBase64, toBase64Url, toHex } from '@subrosa/core'
import { openSecret } from '@subrosa/crypto'
import {
  decryptWithKey,
  generateOwnerKey,
  type OwnerKey,
  type RuntimeData,
  reportDataFor,
} from '@subrosa/protocol'
import { verifyAuditChain } from './audit.ts'
import { openForNamespace } from './namespace-keys.ts'
import { loadSecret } from './secrets.ts'
import { type RunningBroker, startBroker } from './start.ts'
import {
  adminCall,
  createHttpsClient,
  generateTeeKey,
  type HttpsClient,
  KbsFlowError,
  kbsFlow,
} from './testing/kbs-client.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'
import { createTestDatabase, postgresUnavailable, type TestDatabase } from './testing/postgres.ts'

const pgSkip = await postgresUnavailable()
if (pgSkip) process.stderr.write(`SKIP broker replica tests: ${pgSkip}\n`)

const MEASUREMENT = 'cd'.repeat(48)

describe('two broker replicas on one PostgreSQL', { skip: pgSkip }, () => {
  let database: TestDatabase
  let replicas: RunningBroker[] = []
  let client: HttpsClient
  let owner: OwnerKey
  let sim: SimPlatformKey
  const flow = (bases: readonly [string, string, string], resource = 'acme/analytics/pepper') =>
    kbsFlow(client, bases, {
      workload: 'acme/analytics/job',
      measurement: MEASUREMENT,
      platformKey: sim.privateJwk,
      resource,
    })

  before(async () => {
    database = await createTestDatabase()
    owner = await generateOwnerKey()
    sim = await generateSimPlatformKey()
    const unsealKey = systemRandom(32)
    // Both start at once on an empty database: one initializes, the other unseals its state.
    replicas = await Promise.all(
      [0, 1].map(() =>
        startBroker({
          postgres: database.url,
          unsealKey,
          publicUrl: 'https://broker.replicas.test',
          allowSim: true,
          simTrustedKeys: [sim.publicJwk],
          owners: [owner.publicJwk],
        }),
      ),
    )
    client = createHttpsClient(replicas[0]?.caPem ?? '')
    const applied = await adminCall(
      client,
      replicas[0]?.url ?? '',
      owner,
      'POST',
      '/admin/v0/policies',
      {
        yaml: testPolicyYaml(owner.id, MEASUREMENT),
      },
    )
    assert.equal(applied.status, 201, applied.body)
  })
  after(async () => {
    client?.close()
    for (const r of replicas) await r.close()
    await database?.drop()
  })

  it('share one state: same CA, signing key and root key, one of them initialized it', () => {
    const [a, b] = replicas as [RunningBroker, RunningBroker]
    assert.equal(a.caPem, b.caPem)
    assert.deepEqual(a.jwks, b.jwks)
    assert.deepEqual(a.context.keys.rootKey, b.context.keys.rootKey)
    assert.deepEqual([a.initialized, b.initialized].sort(), [false, true])
  })

  it('serve auth on one replica, attest on the other, and the resource on either', async () => {
    const [a, b] = (replicas as [RunningBroker, RunningBroker]).map((r) => r.url) as [
      string,
      string,
    ]
    const first = await flow([a, b, a])
    const second = await flow([b, a, b])
    const third = await flow([a, b, b])
    assert.equal(first.secret.length, 16)
    assert.deepEqual(first.secret, second.secret)
    assert.deepEqual(first.secret, third.secret)
    // A nonce consumed on one replica is used on the other too.
    const tee = await generateTeeKey()
    const auth = await client.send('POST', `${a}/kbs/v0/auth`, {
      body: JSON.stringify({
        version: '0.1.1',
        tee: 'sim',
        'extra-params': { workload: 'acme/analytics/job' },
      }),
    })
    const cookie = auth.setCookie ?? ''
    const attest = (base: string) =>
      client.send('POST', `${base}/kbs/v0/attest`, {
        headers: { cookie },
        body: JSON.stringify({
          'runtime-data': {
            nonce: JSON.parse(auth.body).nonce,
            'tee-pubkey': { ...tee.publicJwk, alg: 'ECDH-ES+A256KW' },
          },
          'tee-evidence': { primary_evidence: 'x' },
        }),
      })
    assert.notEqual((await attest(b)).status, 200)
    assert.equal(JSON.parse((await attest(a)).body).code, 'ERR_KBS_NONCE_USED')
  })

  it('serve cookie-authenticated resources on either replica, keeping tokens sealed at rest', async () => {
    const [a, b] = (replicas as [RunningBroker, RunningBroker]).map((r) => r.url) as [
      string,
      string,
    ]
    const tee = await generateTeeKey()
    const auth = await client.send('POST', `${a}/kbs/v0/auth`, {
      body: JSON.stringify({
        version: '0.1.1',
        tee: 'sim',
        'extra-params': { workload: 'acme/analytics/job' },
      }),
    })
    const cookie = auth.setCookie ?? ''
    const runtimeData: RuntimeData = {
      nonce: JSON.parse(auth.body).nonce,
      'tee-pubkey': {
        kty: 'EC',
        crv: 'P-256',
        x: String(tee.publicJwk.x),
        y: String(tee.publicJwk.y),
        alg: 'ECDH-ES+A256KW',
      },
    }
    const evidence = await createSimEvidence(
      {
        measurement: Buffer.from(MEASUREMENT, 'hex'),
        reportData: reportDataFor(runtimeData),
        debug: false,
        svn: 1,
      },
      sim.privateJwk,
      new Date(),
    )
    const attested = await client.send('POST', `${b}/kbs/v0/attest`, {
      headers: { cookie },
      body: JSON.stringify({
        'runtime-data': runtimeData,
        'tee-evidence': { primary_evidence: evidence },
      }),
    })
    assert.equal(attested.status, 200, attested.body)
    const token = JSON.parse(attested.body).token as string
    for (const base of [a, b]) {
      const r = await client.send('GET', `${base}/kbs/v0/resource/acme/analytics/pepper`, {
        headers: { cookie },
      })
      assert.equal(r.status, 200, r.body)
      assert.equal((await decryptWithKey(JSON.parse(r.body), tee.privateKey)).length, 16)
    }
    const stored = (
      await (replicas[0] as RunningBroker).context.db.query<{ token: string | null }>(
        'SELECT token FROM kbs_sessions WHERE token IS NOT NULL',
      )
    ).rows
    assert.ok(stored.length > 0)
    for (const row of stored) {
      assert.ok(!String(row.token).includes(token.split('.')[1] as string))
      assert.ok(!String(row.token).startsWith('eyJ'))
    }
  })

  it('complete a few hundred round-robin flows with zero errors and a verifiable audit chain', async () => {
    const bases = (replicas as RunningBroker[]).map((r) => r.url)
    const total = 300
    const teeKey = await generateTeeKey()
    let next = 0
    let errors = 0
    const codes: string[] = []
    const worker = async () => {
      while (next < total) {
        const i = next++
        const pick = (k: number) => bases[(i + k) % bases.length] as string
        try {
          const r = await kbsFlow(client, [pick(0), pick(1), pick(2)], {
            workload: 'acme/analytics/job',
            measurement: MEASUREMENT,
            platformKey: sim.privateJwk,
            resource: 'acme/analytics/pepper',
            teeKey,
          })
          if (r.secret.length !== 16) errors++
        } catch (error) {
          errors++
          codes.push(
            error instanceof KbsFlowError ? `${error.step}:${error.status}` : String(error),
          )
        }
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    assert.equal(errors, 0, codes.slice(0, 5).join(', '))
    const chain = await verifyAuditChain((replicas[0] as RunningBroker).context.db)
    assert.equal(chain.ok, true)
    const releases = (
      await (replicas[1] as RunningBroker).context.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM audit_log WHERE kind = 'secret.release'",
      )
    ).rows[0]?.n
    assert.ok((releases ?? 0) >= total)
  })

  it('leave no plaintext key, secret or token in a dump of the database', async () => {
    const [a] = replicas as [RunningBroker]
    const created = await adminCall(client, a.url, owner, 'POST', '/admin/v0/keys', {
      namespace: 'acme',
      name: 'dump-check',
    })
    assert.equal(created.status, 201, created.body)
    const { token, secret } = await flow([a.url, a.url, a.url])
    const ctx = a.context
    const texts = [
      String(ctx.keys.signingKey.d),
      ctx.keys.ca.keyPem.split('\n')[1] ?? 'x',
      token.split('.')[2] ?? 'x',
    ]
    const needles: Uint8Array[] = [ctx.keys.rootKey, secret]
    for (const name of ['db-token', 'pepper', 'unused'])
      needles.push((await loadSecret(ctx, 'acme', 'analytics', name)).value)
    const mk = (
      await ctx.db.query<{ sealed: Uint8Array }>(
        "SELECT sealed FROM master_keys WHERE namespace = 'acme' AND name = 'dump-check'",
      )
    ).rows[0]?.sealed as Uint8Array
    needles.push(await openForNamespace(ctx, 'acme', mk, 'master-key:acme/dump-check'))
    const nk = (
      await ctx.db.query<{ sealed: Uint8Array }>(
        "SELECT sealed FROM namespace_keys WHERE namespace = 'acme'",
      )
    ).rows[0]?.sealed as Uint8Array
    needles.push(openSecret(ctx.keys.rootKey, nk, 'namespace-key:acme'))

    // Every row of every table, as PostgreSQL prints it (bytea as hex).
    const tables = (
      await ctx.db.query<{ name: string }>(
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
      )
    ).rows.map((r) => r.name)
    let dump = ''
    for (const t of tables) {
      const rows = (await ctx.db.query<{ row: string }>(`SELECT t::text AS row FROM ${t} t`)).rows
      dump += rows.map((r) => r.row).join('\n')
    }
    assert.ok(dump.length > 10_000)
    const lower = dump.toLowerCase()
    for (const n of needles) {
      if (n.length < 16) continue
      assert.ok(!lower.includes(toHex(n)), 'a secret appears as hex in the dump')
      assert.ok(!dump.includes(toBase64(n)), 'a secret appears as base64 in the dump')
      assert.ok(!dump.includes(toBase64Url(n)), 'a secret appears as base64url in the dump')
    }
    for (const t of texts)
      assert.ok(!dump.includes(t), 'a key or token appears as text in the dump')
  })
})
