import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { appendAudit, listAudit, verifyAuditChain } from '../audit.ts'
import { createTestDatabase, postgresUnavailable } from '../testing/postgres.ts'
import { inGroupCommit } from './group-commit.ts'
import { openPostgresStore } from './postgres.ts'
import { openPgliteStore, type Store } from './store.ts'

const pgSkip = await postgresUnavailable()
const clock = () => new Date('2026-11-22T12:00:00Z')

async function exercise(store: Store): Promise<void> {
  // 200 concurrent appends: each resolves with its own entry, the chain has all of them in order.
  const entries = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      appendAudit(store.db, clock, { kind: 'test', data: { i } }),
    ),
  )
  assert.deepEqual(
    entries.map((e) => e.data.i),
    entries.map((_, i) => i),
  )
  assert.deepEqual(
    [...entries.map((e) => e.seq)].sort((a, b) => a - b),
    entries.map((_, i) => i + 1),
  )
  // Rows go in as one array statement: values that array literals must escape come back intact.
  const awkward = [
    { kind: 'test', namespace: 'a,b', data: { s: '{"quoted", \\back\\slash}', n: null } },
    { kind: 'te"st', data: { u: 'sch\u00f6n \u2603 \ud83d\udd12', nested: [{ a: [1, '}'] }] } },
    { kind: 'NULL', namespace: 'NULL', data: {} },
  ]
  const stored = await Promise.all(awkward.map((r) => appendAudit(store.db, clock, r)))
  const read = await listAudit(store.db, { after: 200 })
  assert.deepEqual(read, stored)
  assert.deepEqual(
    read.map((e) => [e.kind, e.namespace, e.data]),
    awkward.map((r) => [r.kind, r.namespace ?? null, r.data]),
  )
  const chain = await verifyAuditChain(store.db)
  assert.deepEqual(chain.ok && chain.length, 203)

  // A failing write in a group fails alone; the others of its group commit.
  const results = await Promise.allSettled([
    inGroupCommit(store.db, (tx) => tx.query("INSERT INTO broker_state VALUES ('g1', '\\x01')")),
    inGroupCommit(store.db, (tx) => tx.query('INSERT INTO no_such_table VALUES (1)')),
    inGroupCommit(store.db, (tx) => tx.query("INSERT INTO broker_state VALUES ('g2', '\\x02')")),
  ])
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  )
  const names = (
    await store.db.query<{ name: string }>(
      "SELECT name FROM broker_state WHERE name LIKE 'g%' ORDER BY name",
    )
  ).rows.map((r) => r.name)
  assert.deepEqual(names, ['g1', 'g2'])
}

describe('group commit of audit appends', () => {
  it('chains concurrent appends in order and isolates a failing write (PGlite)', async () => {
    const store = await openPgliteStore(undefined)
    try {
      await exercise(store)
    } finally {
      await store.close()
    }
  })

  it('does the same on PostgreSQL', { skip: pgSkip }, async () => {
    const database = await createTestDatabase()
    const store = await openPostgresStore(database.url)
    try {
      await exercise(store)
    } finally {
      await store.close()
      await database.drop()
    }
  })
})
