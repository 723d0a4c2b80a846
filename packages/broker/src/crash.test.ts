import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { fromBase64Url, fromUtf8, systemClock, systemRandom, toBase64 } from '@subrosa/core'
import { generateOwnerKey, type OwnerKey } from '@subrosa/protocol'
import { verifyAuditChain } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { unwrapWithMasterKey, wrapWithMasterKey } from './master-keys.ts'
import { assertNamespaceKeys } from './namespace-keys.ts'
import { loadSecret } from './secrets.ts'
import { initOrUnseal } from './state.ts'
import { openPostgresStore } from './store/postgres.ts'
import { openPgliteStore, type Store } from './store/store.ts'
import { type BrokerProcess, spawnBrokerProcess } from './testing/broker-process.ts'
import {
  adminCall,
  createHttpsClient,
  generateTeeKey,
  type HttpsClient,
  kbsFlow,
  type TeeKeyPair,
} from './testing/kbs-client.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'
import { createTestDatabase, postgresUnavailable, type TestDatabase } from './testing/postgres.ts'

// Crash safety (#5): a broker process takes a stream of key creations, policy updates and KBS
// releases from concurrent clients and is SIGKILLed at seeded random moments, then restarted.
// Afterwards every acknowledged write is in the store, every stored write is whole (row, sealed
// material and audit entry together) and the audit chain verifies.

const pgSkip = await postgresUnavailable()
if (pgSkip) process.stderr.write(`SKIP PostgreSQL crash test: ${pgSkip}\n`)

const SEED = Number(process.env.SUBROSA_CRASH_SEED ?? 0x5eed)
const ROUNDS = 4
const MEASUREMENT = 'ef'.repeat(48)

/** mulberry32: a small seeded PRNG, so a failing run can be replayed with its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

type Acked = {
  keys: Set<string>
  policies: Map<number, string>
  releases: Set<string>
}

type Run = {
  owner: OwnerKey
  sim: SimPlatformKey
  tee: TeeKeyPair
  acked: Acked
  /** Hash of the current policy version, as far as the client knows. */
  head: { version: number; hash: string }
}

function jtiOf(token: string): string {
  const payload = token.split('.')[1] ?? ''
  return String(JSON.parse(fromUtf8(fromBase64Url(payload) ?? new Uint8Array())).jti)
}

async function drive(
  client: HttpsClient,
  url: string,
  run: Run,
  round: number,
  random: () => number,
  stop: { now: boolean },
): Promise<{ workers: Promise<unknown> }> {
  let n = 0
  const keys = async () => {
    while (!stop.now) {
      const name = `k-${round}-${n++}`
      const r = await adminCall(client, url, run.owner, 'POST', '/admin/v0/keys', {
        namespace: 'acme',
        name,
      }).catch(() => undefined)
      if (r?.status === 201) run.acked.keys.add(name)
    }
  }
  const policies = async () => {
    while (!stop.now) {
      const version = run.head.version + 1
      const yaml = testPolicyYaml(run.owner.id, MEASUREMENT, {
        predecessor: run.head.hash,
        debug: version % 2 === 0 ? 'allow' : 'deny',
      })
      const r = await adminCall(client, url, run.owner, 'POST', '/admin/v0/policies', {
        yaml,
      }).catch(() => undefined)
      if (r?.status !== 201) continue
      const body = JSON.parse(r.body) as { version: number; hash: string }
      run.acked.policies.set(body.version, body.hash)
      run.head = { version: body.version, hash: body.hash }
      // Fewer policy updates than releases: each update makes issued tokens stale.
      await new Promise((done) => setTimeout(done, 100))
    }
  }
  const releases = async () => {
    while (!stop.now) {
      const r = await kbsFlow(client, [url, url, url], {
        workload: 'acme/analytics/job',
        measurement: MEASUREMENT,
        platformKey: run.sim.privateJwk,
        resource: 'acme/analytics/pepper',
        teeKey: run.tee,
      }).catch(() => undefined)
      if (r !== undefined && r.secret.length === 16) run.acked.releases.add(jtiOf(r.token))
    }
  }
  const workers = [keys(), keys(), policies(), releases(), releases()]
  // Let the stream run for a seeded random time; the kill then lands mid-request.
  await new Promise((done) => setTimeout(done, 200 + Math.floor(random() * 900)))
  return { workers: Promise.all(workers) }
}

async function verifyStore(store: Store, unsealKey: Uint8Array, acked: Acked): Promise<void> {
  const keys = await initOrUnseal(store.db, unsealKey, systemClock, systemRandom)
  assert.equal(keys.initialized, false)
  const ctx: BrokerContext = {
    db: store.db,
    keys,
    clock: systemClock,
    random: systemRandom,
    issuer: 'https://crash.test',
    allowSim: true,
    simTrustedKeys: [],
    verification: {},
    tokenTtlSeconds: 1800,
    nonceTtlSeconds: 120,
    build: 'test',
    log: () => {},
  }
  await assertNamespaceKeys(store.db)
  const chain = await verifyAuditChain(store.db)
  assert.equal(chain.ok, true, JSON.stringify(chain))
  const audit = (
    await store.db.query<{ kind: string; data: Record<string, unknown> }>(
      'SELECT kind, data FROM audit_log ORDER BY seq',
    )
  ).rows

  // Keys: acknowledged ones present; every stored one whole (opens, audited exactly once).
  const stored = (
    await store.db.query<{ name: string }>("SELECT name FROM master_keys WHERE namespace = 'acme'")
  ).rows.map((r) => r.name)
  for (const name of acked.keys) assert.ok(stored.includes(name), `acknowledged key ${name} lost`)
  const created = audit.filter((e) => e.kind === 'key.create').map((e) => String(e.data.key))
  assert.deepEqual(
    [...created].sort(),
    stored.map((n) => `subrosa:acme/${n}`).sort(),
    'key rows and key.create entries differ',
  )
  for (const name of stored) {
    const dek = systemRandom(32)
    const id = `subrosa:acme/${name}`
    assert.deepEqual(await unwrapWithMasterKey(ctx, id, await wrapWithMasterKey(ctx, id, dek)), dek)
  }

  // Policies: acknowledged versions present with their hash; versions contiguous, each audited.
  const versions = (
    await store.db.query<{ version: number; hash: string }>(
      "SELECT version, hash FROM policies WHERE namespace = 'acme' AND name = 'analytics' ORDER BY version",
    )
  ).rows
  for (const [version, hash] of acked.policies)
    assert.equal(versions.find((v) => v.version === version)?.hash, hash, `policy v${version} lost`)
  assert.deepEqual(
    versions.map((v) => v.version),
    versions.map((_, i) => i + 1),
  )
  const applied = audit.filter((e) => e.kind === 'policy.apply').map((e) => String(e.data.hash))
  assert.deepEqual(
    applied,
    versions.map((v) => v.hash),
    'policy rows and policy.apply entries differ',
  )
  for (const name of ['db-token', 'pepper', 'unused'])
    assert.ok((await loadSecret(ctx, 'acme', 'analytics', name)).value.length > 0)

  // Releases: every acknowledged release is audited.
  const released = new Set(
    audit.filter((e) => e.kind === 'secret.release').map((e) => String(e.data.tokenId)),
  )
  for (const jti of acked.releases) assert.ok(released.has(jti), `release ${jti} not audited`)
}

async function crashRounds(settings: {
  dataDir: string
  postgres?: string
  open: () => Promise<Store>
  seed: number
}): Promise<Acked> {
  const random = prng(settings.seed)
  const unsealKey = systemRandom(32)
  const run: Run = {
    owner: await generateOwnerKey(),
    sim: await generateSimPlatformKey(),
    tee: await generateTeeKey(),
    acked: { keys: new Set(), policies: new Map(), releases: new Set() },
    head: { version: 0, hash: '' },
  }
  const processSettings = {
    dataDir: settings.dataDir,
    postgres: settings.postgres,
    unsealKey: toBase64(unsealKey),
    publicUrl: 'https://crash.test',
    simTrustedKeys: [run.sim.publicJwk],
    owners: [run.owner.publicJwk],
  }
  for (let round = 0; round < ROUNDS; round++) {
    const broker: BrokerProcess = await spawnBrokerProcess(processSettings)
    const client = createHttpsClient(await readFile(join(settings.dataDir, 'ca.pem'), 'utf8'))
    try {
      if (round === 0) {
        const r = await adminCall(client, broker.url, run.owner, 'POST', '/admin/v0/policies', {
          yaml: testPolicyYaml(run.owner.id, MEASUREMENT),
        })
        assert.equal(r.status, 201, r.body)
        const body = JSON.parse(r.body) as { version: number; hash: string }
        run.acked.policies.set(body.version, body.hash)
      }
      // The client learns the current version again after a crash (its last apply may have
      // committed without an answer).
      const current = await adminCall(
        client,
        broker.url,
        run.owner,
        'GET',
        '/admin/v0/policies/acme/analytics',
      )
      assert.equal(current.status, 200, current.body)
      const head = JSON.parse(current.body) as { version: number; hash: string }
      run.head = { version: head.version, hash: head.hash }
      // One acknowledged key and release per round before the stream, so that each kind of
      // write is checked however the kill falls.
      const key = await adminCall(client, broker.url, run.owner, 'POST', '/admin/v0/keys', {
        namespace: 'acme',
        name: `first-${round}`,
      })
      assert.equal(key.status, 201, key.body)
      run.acked.keys.add(`first-${round}`)
      const released = await kbsFlow(client, [broker.url, broker.url, broker.url], {
        workload: 'acme/analytics/job',
        measurement: MEASUREMENT,
        platformKey: run.sim.privateJwk,
        resource: 'acme/analytics/pepper',
        teeKey: run.tee,
      })
      run.acked.releases.add(jtiOf(released.token))
      const stop = { now: false }
      const { workers } = await drive(client, broker.url, run, round, random, stop)
      broker.kill('SIGKILL')
      stop.now = true
      assert.equal(await broker.exited, 'SIGKILL')
      await workers
    } finally {
      broker.kill('SIGKILL')
      client.close()
    }
  }
  const store = await settings.open()
  try {
    await verifyStore(store, unsealKey, run.acked)
  } finally {
    await store.close()
  }
  return run.acked
}

describe('crash safety: SIGKILL during a stream of writes', () => {
  const dirs: string[] = []
  let database: TestDatabase | undefined
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true })
    await database?.drop()
  })

  it('keeps every acknowledged write and nothing half-written on PGlite', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'subrosa-crash-'))
    dirs.push(dataDir)
    const acked = await crashRounds({
      dataDir,
      open: () => openPgliteStore(join(dataDir, 'pgdata')),
      seed: SEED,
    })
    assert.ok(acked.keys.size > ROUNDS && acked.releases.size >= ROUNDS)
  })

  it('keeps every acknowledged write and nothing half-written on PostgreSQL', {
    skip: pgSkip,
  }, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'subrosa-crash-'))
    dirs.push(dataDir)
    database = await createTestDatabase()
    const url = database.url
    const acked = await crashRounds({
      dataDir,
      postgres: url,
      open: () => openPostgresStore(url),
      seed: SEED + 1,
    })
    assert.ok(acked.keys.size > ROUNDS && acked.releases.size >= ROUNDS)
  })
})
