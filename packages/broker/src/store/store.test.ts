import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { systemRandom } from '@subrosa/core'
import { openSecret } from '@subrosa/crypto'
import { generateOwnerKey, ownerKeyId } from '@subrosa/protocol'
import type { BrokerContext } from '../context.ts'
import { startSession } from '../kbs.ts'
import { createMasterKey, unwrapWithMasterKey, wrapWithMasterKey } from '../master-keys.ts'
import { assertNamespaceKeys, openForNamespace, sealForNamespace } from '../namespace-keys.ts'
import { applyPolicy } from '../policies.ts'
import { loadSecret } from '../secrets.ts'
import { initOrUnseal } from '../state.ts'
import { testPolicyYaml } from '../testing/policy-fixture.ts'
import { createTestDatabase, postgresUnavailable, type TestDatabase } from '../testing/postgres.ts'
import { MIGRATIONS } from './migrations.ts'
import { openPostgresStore } from './postgres.ts'
import { type Db, openPgliteStore, relaxedDb, type Store } from './store.ts'

const pgSkip = await postgresUnavailable()
if (pgSkip) process.stderr.write(`SKIP PostgreSQL store tests: ${pgSkip}\n`)

const clock = () => new Date('2026-11-22T12:00:00Z')
const OWNER = await ownerKeyId((await generateOwnerKey()).publicJwk)
const owners = JSON.stringify([OWNER])

function contextOf(store: Store, keys: BrokerContext['keys']): BrokerContext {
  return {
    db: store.db,
    keys,
    clock,
    random: systemRandom,
    issuer: 'https://broker.test',
    allowSim: true,
    simTrustedKeys: [],
    verification: {},
    tokenTtlSeconds: 1800,
    nonceTtlSeconds: 120,
    build: 'test',
    log: () => {},
  }
}

type Backend = {
  readonly name: string
  readonly skip: string | false
  open(): Promise<Store>
  /** A second, independent connection to the same store (PostgreSQL only). */
  openAgain?: () => Promise<Store>
  cleanup(): Promise<void>
}

function pgliteBackend(): Backend {
  return {
    name: 'PGlite',
    skip: false,
    open: () => openPgliteStore(undefined),
    cleanup: async () => {},
  }
}

function postgresBackend(): Backend {
  let database: TestDatabase | undefined
  return {
    name: 'PostgreSQL',
    skip: pgSkip,
    async open() {
      database = await createTestDatabase()
      return openPostgresStore(database.url)
    },
    openAgain: async () => openPostgresStore((database as TestDatabase).url),
    cleanup: async () => database?.drop(),
  }
}

for (const backend of [pgliteBackend(), postgresBackend()]) {
  describe(`store on ${backend.name}`, { skip: backend.skip }, () => {
    let store: Store
    before(async () => {
      store = await backend.open()
    })
    after(async () => {
      await store?.close()
      await backend.cleanup()
    })

    it('returns bigint, bytea, timestamptz and jsonb in the same JS shapes', async () => {
      const at = new Date('2026-11-22T12:34:56.789Z')
      await store.db.query(
        'INSERT INTO audit_log (seq, at, kind, namespace, data, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [9_007_199_254_740_000, at, 'shape', null, JSON.stringify({ a: [1, 'x'] }), 'p', 'h'],
      )
      const row = (
        await store.db.query<{ seq: unknown; at: unknown; data: unknown }>(
          "SELECT seq, at, data FROM audit_log WHERE kind = 'shape'",
        )
      ).rows[0]
      assert.equal(row?.seq, 9_007_199_254_740_000)
      assert.ok(row?.at instanceof Date)
      assert.equal((row?.at as Date | undefined)?.toISOString(), at.toISOString())
      assert.deepEqual(row?.data, { a: [1, 'x'] })
      await store.db.query("DELETE FROM audit_log WHERE kind = 'shape'")

      const bytes = new Uint8Array([0, 1, 254, 255])
      await store.db.query('INSERT INTO broker_state (name, value) VALUES ($1, $2)', ['b', bytes])
      const value = (
        await store.db.query<{ value: Uint8Array }>(
          "SELECT value FROM broker_state WHERE name = 'b'",
        )
      ).rows[0]?.value
      assert.equal(value?.constructor, Uint8Array)
      assert.deepEqual(value, bytes)
      await store.db.query("DELETE FROM broker_state WHERE name = 'b'")
    })

    it('runs a parameterless script in one call and returns the rows of each statement', async () => {
      const results = await store.db.script("SELECT 1 AS a; SELECT 'x' AS b UNION ALL SELECT 'y'")
      assert.deepEqual(
        results.map((r) => r.rows),
        [[{ a: 1 }], [{ b: 'x' }, { b: 'y' }]],
      )
      await store.db.transaction(async (tx) => {
        const [, rows] = await tx.script(
          'LOCK TABLE audit_log IN EXCLUSIVE MODE; SELECT count(*)::int AS n FROM audit_log',
        )
        const n = (rows?.rows[0] as { n?: unknown } | undefined)?.n
        assert.equal(typeof n, 'number')
      })
    })

    it('commits relaxed (session) writes without waiting for the WAL flush, visible at once', async () => {
      const relaxed = relaxedDb(store.db)
      const setting = async (db: Db) =>
        (await db.query<{ synchronous_commit: string }>('SHOW synchronous_commit')).rows[0]
          ?.synchronous_commit
      // PGlite has one kind of commit; on PostgreSQL only the session pool is relaxed.
      assert.equal(store.db.relaxed === undefined, backend.name === 'PGlite')
      if (store.db.relaxed !== undefined) {
        assert.equal(await setting(store.db), 'on')
        assert.equal(await setting(relaxed), 'off')
      }
      await relaxed.query('INSERT INTO broker_state (name, value) VALUES ($1, $2)', [
        'relaxed',
        new Uint8Array([1]),
      ])
      const seen = await store.db.query("SELECT 1 FROM broker_state WHERE name = 'relaxed'")
      assert.equal(seen.rows.length, 1)
      await store.db.query("DELETE FROM broker_state WHERE name = 'relaxed'")
    })

    it('rolls a failed transaction back whole, also through nested transactions', async () => {
      await assert.rejects(
        store.db.transaction(async (tx) => {
          await tx.query('INSERT INTO broker_state (name, value) VALUES ($1, $2)', [
            'tx',
            new Uint8Array(1),
          ])
          await tx.transaction(async (inner) => {
            assert.equal(inner.inTransaction, true)
            await inner.query('INSERT INTO broker_state (name, value) VALUES ($1, $2)', [
              'tx2',
              new Uint8Array(1),
            ])
          })
          throw new Error('boom')
        }),
        /boom/,
      )
      const rows = (
        await store.db.query("SELECT name FROM broker_state WHERE name IN ('tx', 'tx2')")
      ).rows
      assert.deepEqual(rows, [])
      assert.notEqual(store.db.inTransaction, true)
    })

    it('applies every migration once, and migrating again changes nothing', async () => {
      const versions = (
        await store.db.query<{ version: number }>(
          'SELECT version FROM schema_migrations ORDER BY version',
        )
      ).rows.map((r) => r.version)
      assert.deepEqual(
        versions,
        MIGRATIONS.map((m) => m.version).sort((a, b) => a - b),
      )
      if (backend.openAgain !== undefined) {
        // Three replicas starting at once all succeed (advisory lock), without re-running any.
        const again = await Promise.all([
          backend.openAgain(),
          backend.openAgain(),
          backend.openAgain(),
        ])
        for (const s of again) await s.close()
        const count = (
          await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations')
        ).rows[0]?.n
        assert.equal(count, versions.length)
      }
    })

    it('seals master keys and secrets under per-namespace keys, themselves sealed by the root key', async () => {
      const keys = await initOrUnseal(store.db, systemRandom(32), clock, systemRandom)
      const ctx = contextOf(store, keys)
      await createMasterKey(ctx, OWNER, 'acme', 'taxi')
      await createMasterKey(ctx, OWNER, 'other', 'taxi')
      const nsRows = (
        await store.db.query<{ namespace: string; sealed: Uint8Array }>(
          'SELECT namespace, sealed FROM namespace_keys ORDER BY namespace',
        )
      ).rows
      assert.deepEqual(
        nsRows.map((r) => r.namespace),
        ['acme', 'other'],
      )
      const nsKeys = nsRows.map((r) =>
        openSecret(keys.rootKey, r.sealed, `namespace-key:${r.namespace}`),
      )
      assert.equal(nsKeys[0]?.length, 32)
      assert.notDeepEqual(nsKeys[0], nsKeys[1])
      const mk = (
        await store.db.query<{ sealed: Uint8Array }>(
          "SELECT sealed FROM master_keys WHERE namespace = 'acme' AND name = 'taxi'",
        )
      ).rows[0]?.sealed as Uint8Array
      // Not openable by the root key, only by the namespace key.
      assert.throws(() => openSecret(keys.rootKey, mk, 'master-key:acme/taxi'), {
        code: 'ERR_CRYPTO_AUTH',
      })
      assert.equal(openSecret(nsKeys[0] as Uint8Array, mk, 'master-key:acme/taxi').length, 32)
      // Sealed for one namespace does not open as another's.
      const sealed = await sealForNamespace(ctx, 'acme', new Uint8Array([1, 2, 3]), 'c')
      assert.deepEqual(await openForNamespace(ctx, 'acme', sealed, 'c'), new Uint8Array([1, 2, 3]))
      await assert.rejects(openForNamespace(ctx, 'other', sealed, 'c'), { code: 'ERR_CRYPTO_AUTH' })
      await assert.rejects(openForNamespace(ctx, 'nobody', sealed, 'c'), {
        code: 'ERR_BROKER_STATE',
      })
      // Wrapping still round-trips, and generated secrets are namespace-sealed too.
      const dek = systemRandom(32)
      const wrapped = await wrapWithMasterKey(ctx, 'subrosa:acme/taxi', dek)
      assert.deepEqual(await unwrapWithMasterKey(ctx, 'subrosa:acme/taxi', wrapped), dek)
      await store.db.query(
        "INSERT INTO namespaces (name, owners, created_at) VALUES ('acme', $1, now()) ON CONFLICT DO NOTHING",
        [owners],
      )
      await applyPolicy(ctx, OWNER, testPolicyYaml(OWNER, 'a'.repeat(96)))
      const secret = (await loadSecret(ctx, 'acme', 'analytics', 'db-token')).value
      assert.equal(secret.length, 32)
      const secretRow = (
        await store.db.query<{ sealed: Uint8Array }>(
          "SELECT sealed FROM secrets WHERE name = 'db-token'",
        )
      ).rows[0]?.sealed as Uint8Array
      assert.throws(() => openSecret(keys.rootKey, secretRow, 'secret:acme/analytics/db-token'))

      // A broker with another root key cannot open the namespace key.
      const stranger = contextOf(store, { ...keys, rootKey: systemRandom(32) })
      await assert.rejects(loadSecret(stranger, 'acme', 'analytics', 'db-token'), {
        code: 'ERR_BROKER_STATE',
      })
      await assertNamespaceKeys(store.db)
    })

    it('purges KBS sessions older than a token lifetime when a new one opens', async () => {
      let now = new Date('2026-11-22T12:00:00Z')
      // Opening a session touches no key.
      const ctx = { ...contextOf(store, {} as BrokerContext['keys']), clock: () => now }
      const body = { version: '0.1.1', tee: 'sim', 'extra-params': { workload: 'acme/a/job' } }
      const old = await startSession(ctx, body)
      now = new Date(now.getTime() + (120 + 1800 + 1) * 1000)
      const fresh = await startSession(ctx, body)
      const ids = (await store.db.query<{ id: string }>('SELECT id FROM kbs_sessions')).rows.map(
        (r) => r.id,
      )
      assert.ok(!ids.includes(old.sessionId))
      assert.ok(ids.includes(fresh.sessionId))
      // At most one purge a second per store: a row that expires within that second stays until
      // the next purge.
      now = new Date(now.getTime() + (120 + 1800) * 1000) // fresh is not yet purgeable
      await startSession(ctx, body) // purges
      const has = async (id: string) =>
        (await store.db.query('SELECT 1 FROM kbs_sessions WHERE id = $1', [id])).rows.length > 0
      now = new Date(now.getTime() + 500) // fresh is purgeable now
      await startSession(ctx, body)
      assert.equal(await has(fresh.sessionId), true)
      now = new Date(now.getTime() + 500)
      await startSession(ctx, body)
      assert.equal(await has(fresh.sessionId), false)
    })

    it('refuses a store with rows sealed before namespace keys existed', async () => {
      await store.db.query(
        "INSERT INTO master_keys (namespace, name, sealed, created_at, created_by) VALUES ('legacy', 'k', $1, now(), 'o')",
        [new Uint8Array(40)],
      )
      await assert.rejects(assertNamespaceKeys(store.db), { code: 'ERR_BROKER_STATE' })
      await store.db.query("DELETE FROM master_keys WHERE namespace = 'legacy'")
      await assertNamespaceKeys(store.db)
    })

    it('refuses to open a store with a schema version this broker does not know', async () => {
      if (backend.openAgain === undefined) {
        const dir = await mkdtemp(join(tmpdir(), 'subrosa-store-test-'))
        try {
          const onDisk = await openPgliteStore(dir)
          await onDisk.db.query('INSERT INTO schema_migrations (version) VALUES (9999)')
          await onDisk.close()
          await assert.rejects(openPgliteStore(dir), { code: 'ERR_BROKER_STATE' })
        } finally {
          await rm(dir, { recursive: true, force: true })
        }
        return
      }
      await store.db.query('INSERT INTO schema_migrations (version) VALUES (9999)')
      try {
        await assert.rejects(backend.openAgain(), { code: 'ERR_BROKER_STATE' })
      } finally {
        await store.db.query('DELETE FROM schema_migrations WHERE version = 9999')
      }
    })
  })
}

describe('PostgreSQL replicas on one store', { skip: pgSkip }, () => {
  let database: TestDatabase
  const stores: Store[] = []
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    for (const s of stores) await s.close()
    await database?.drop()
  })

  it('open at most the configured connections, and half as many for sessions', async () => {
    const store = await openPostgresStore(database.url, { maxConnections: 3 })
    try {
      const busy = (db: Db) =>
        Promise.all(Array.from({ length: 8 }, () => db.query('SELECT pg_sleep(0.02)')))
      await Promise.all([busy(store.db), busy(relaxedDb(store.db))])
      const counts = (
        await store.db.query<{ application_name: string; n: number }>(
          "SELECT application_name, count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'subrosa-broker%' GROUP BY 1 ORDER BY 1",
        )
      ).rows
      assert.deepEqual(counts, [
        { application_name: 'subrosa-broker', n: 3 },
        { application_name: 'subrosa-broker-sessions', n: 2 },
      ])
    } finally {
      await store.close()
    }
  })

  it('initialize concurrently to one root key, and race policy versions to one winner', async () => {
    const unsealKey = systemRandom(32)
    stores.push(await openPostgresStore(database.url), await openPostgresStore(database.url))
    const [a, b] = stores as [Store, Store]
    const [ka, kb] = await Promise.all([
      initOrUnseal(a.db, unsealKey, clock, systemRandom),
      initOrUnseal(b.db, unsealKey, clock, systemRandom),
    ])
    assert.deepEqual(ka.rootKey, kb.rootKey)
    assert.deepEqual([ka.initialized, kb.initialized].sort(), [false, true])
    const ca = contextOf(a, ka)
    const cb = contextOf(b, kb)
    // Both replicas create keys of a new namespace at once: one namespace key, both keys open.
    await Promise.all([
      createMasterKey(ca, OWNER, 'acme', 'k1'),
      createMasterKey(cb, OWNER, 'acme', 'k2'),
    ])
    const dek = systemRandom(16)
    const w = await wrapWithMasterKey(ca, 'subrosa:acme/k2', dek)
    assert.deepEqual(await unwrapWithMasterKey(cb, 'subrosa:acme/k2', w), dek)
    await a.db.query(
      "INSERT INTO namespaces (name, owners, created_at) VALUES ('acme', $1, now())",
      [owners],
    )
    const yaml = testPolicyYaml(OWNER, 'b'.repeat(96))
    const other = testPolicyYaml(OWNER, 'c'.repeat(96))
    const results = await Promise.allSettled([
      applyPolicy(ca, OWNER, yaml),
      applyPolicy(cb, OWNER, other),
    ])
    const rejected = results.filter((r) => r.status === 'rejected')
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1)
    for (const r of rejected)
      assert.equal((r.reason as { code?: string }).code, 'ERR_BROKER_CONFLICT')
  })
})
