import { PGlite } from '@electric-sql/pglite'
import { BrokerError } from '../errors.ts'
import { MIGRATIONS } from './migrations.ts'

/** The SQL surface the broker needs: PGlite (embedded) or PostgreSQL (`postgres.ts`), same SQL. */
export type Db = {
  query<T>(sql: string, params?: readonly unknown[]): Promise<{ rows: T[] }>
  /**
   * Run parameterless statements separated by `;` in one round trip (PostgreSQL's simple query
   * protocol, PGlite's `exec`); the rows of each, in order.
   */
  script(sql: string): Promise<{ rows: unknown[] }[]>
  transaction<R>(fn: (tx: Db) => Promise<R>): Promise<R>
  /** True inside a transaction (where a nested `transaction` runs in the enclosing one). */
  readonly inTransaction?: boolean
  /**
   * The same database for writes that need not be durable on their own (KBS sessions): on
   * PostgreSQL their commits do not wait for the WAL flush (`synchronous_commit = off`), and the
   * next durable commit flushes them too. Absent where every commit is alike (PGlite).
   */
  readonly relaxed?: Db
}

/** `db.relaxed` where the store has one, else `db` itself. */
export function relaxedDb(db: Db): Db {
  return db.relaxed ?? db
}

/** An open store and how to close it. */
export type Store = { readonly db: Db; close(): Promise<void> }

/**
 * Open (creating when absent) the embedded PGlite store in `dataDir`, or in memory when
 * `dataDir` is undefined, and apply pending migrations.
 *
 * @throws BrokerError `ERR_BROKER_STATE` when the store has a newer schema than this broker.
 */
export async function openPgliteStore(dataDir: string | undefined): Promise<Store> {
  const pg = dataDir === undefined ? new PGlite() : new PGlite(dataDir)
  await pg.waitReady
  const db = wrap(pg)
  await migrate(db)
  return { db, close: () => pg.close() }
}

type PgliteLike = Pick<PGlite, 'query' | 'exec'> & { transaction?: PGlite['transaction'] }

function wrap(pg: PgliteLike, inTransaction = false): Db {
  return {
    inTransaction,
    query: async <T>(sql: string, params: readonly unknown[] = []) => {
      const result = await pg.query<T>(sql, params as unknown[])
      return { rows: result.rows }
    },
    script: async (sql: string) => (await pg.exec(sql)).map((r) => ({ rows: r.rows as unknown[] })),
    transaction: async <R>(fn: (tx: Db) => Promise<R>) => {
      if (pg.transaction === undefined) return fn(wrap(pg, true))
      return pg.transaction((tx) => fn(wrap(tx, true)))
    },
  }
}

/** Apply pending migrations in order, each in one transaction. */
export async function migrate(db: Db): Promise<void> {
  await db.query(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  )
  const applied = new Set(
    (await db.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map(
      (r) => r.version,
    ),
  )
  const known = new Set(MIGRATIONS.map((m) => m.version))
  for (const v of applied) {
    if (!known.has(v)) {
      throw new BrokerError(
        'ERR_BROKER_STATE',
        `Store has schema version ${v}, unknown to this broker; upgrade the broker`,
      )
    }
  }
  for (const m of [...MIGRATIONS].sort((a, b) => a.version - b.version)) {
    if (applied.has(m.version)) continue
    await db.transaction(async (tx) => {
      for (const statement of m.sql
        .split(';')
        .map((s) => s.trim())
        .filter((s) => s !== '')) {
        await tx.query(statement)
      }
      await tx.query('INSERT INTO schema_migrations (version) VALUES ($1)', [m.version])
    })
  }
}
