import pg from 'pg'
import { BrokerError } from '../errors.ts'
import { type Db, migrate, type Store } from './store.ts'

/** Advisory lock key taken while migrating, so that replicas starting together do not race. */
const MIGRATION_LOCK = 0x5375_6272 // 'Subr'

const OID_INT8 = 20
const OID_BYTEA = 17

/**
 * Values come back in PGlite's shapes: `bigint` as a number (exact up to 2^53), `bytea` as a
 * plain `Uint8Array` (not a `Buffer`); `timestamptz` as `Date` and `jsonb` parsed, as pg does.
 */
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (oid === OID_INT8 && format !== 'binary') return (v: string) => Number(v)
    if (oid === OID_BYTEA && format !== 'binary') {
      const parse = pg.types.getTypeParser(OID_BYTEA, 'text') as (v: string) => Buffer
      return (v: string) => {
        const b = parse(v)
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength)
      }
    }
    return pg.types.getTypeParser(oid, format as 'text')
  }) as pg.CustomTypesConfig['getTypeParser'],
}

const DEFAULT_POOL = 4

/** Options of {@link openPostgresStore}. */
export type PostgresStoreOptions = {
  /**
   * Most connections of the main pool (default 4); the pool for KBS session writes opens at most
   * half as many more. Small pools serve more flows per second (ADR 0033): on the 2-core bench,
   * 3–4 connections per replica ran about a third more flows than 10.
   */
  readonly maxConnections?: number
}

/**
 * Open the PostgreSQL store at `url` (`postgres://user@host:port/db`): a connection pool,
 * transactions on one connection, and the same migrations as PGlite, applied under a PostgreSQL
 * advisory lock so that several broker replicas may start at once.
 *
 * @example
 * const store = await openPostgresStore('postgres://postgres@127.0.0.1:5432/subrosa')
 * @throws BrokerError `ERR_BROKER_STATE` when PostgreSQL cannot be reached or has a newer schema.
 */
export async function openPostgresStore(
  url: string,
  options: PostgresStoreOptions = {},
): Promise<Store> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.maxConnections ?? DEFAULT_POOL,
    types,
    application_name: 'subrosa-broker',
  })
  // An idle connection that the server drops must not crash the process.
  pool.on('error', () => {})
  let client: pg.PoolClient
  try {
    client = await pool.connect()
  } catch (cause) {
    await pool.end()
    throw new BrokerError(
      'ERR_BROKER_STATE',
      `Cannot connect to PostgreSQL at ${redactUrl(url)}: ${(cause as Error).message ?? cause}`,
    )
  }
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK])
    try {
      await migrate(clientDb(client))
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK])
    }
  } catch (error) {
    client.release()
    await pool.end()
    throw error
  }
  client.release()
  // KBS session writes commit without waiting for the WAL flush (ADR 0033): about half the
  // server CPU of a durable commit. They become durable with the next durable commit, which is
  // at the latest the attestation's audit entry, before any token leaves the broker.
  const relaxedPool = new pg.Pool({
    connectionString: url,
    max: Math.max(1, Math.ceil((options.maxConnections ?? DEFAULT_POOL) / 2)),
    types,
    application_name: 'subrosa-broker-sessions',
    options: '-c synchronous_commit=off',
  })
  relaxedPool.on('error', () => {})
  return {
    db: { ...poolDb(pool), relaxed: poolDb(relaxedPool) },
    close: async () => {
      await Promise.all([pool.end(), relaxedPool.end()])
    },
  }
}

/** `url` without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '<malformed url>'
  }
}

// Data statements run as named prepared statements: each connection parses and plans one once,
// instead of on every call (the broker issues a few fixed statements at a high rate).
const names = new Map<string, string>()
const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i
/** Statements past this many distinct texts run unnamed (bounds per-connection server memory). */
const MAX_NAMED = 256

function statement(sql: string, params: readonly unknown[]): pg.QueryConfig {
  if (!PREPARABLE.test(sql)) return { text: sql, values: params as unknown[] }
  let name = names.get(sql)
  if (name === undefined) {
    if (names.size >= MAX_NAMED) return { text: sql, values: params as unknown[] }
    name = `s${names.size}`
    names.set(sql, name)
  }
  return { name, text: sql, values: params as unknown[] }
}

/** Rows of each statement of a simple query (pg answers one result, or an array of them). */
function scriptRows(result: pg.QueryResult | pg.QueryResult[]): { rows: unknown[] }[] {
  return (Array.isArray(result) ? result : [result]).map((r) => ({ rows: r.rows as unknown[] }))
}

function poolDb(pool: pg.Pool): Db {
  return {
    query: async <T>(sql: string, params: readonly unknown[] = []) => {
      const result = await pool.query(statement(sql, params))
      return { rows: result.rows as T[] }
    },
    script: async (sql: string) => scriptRows(await pool.query(sql)),
    transaction: async <R>(fn: (tx: Db) => Promise<R>) => {
      const client = await pool.connect()
      try {
        return await inTransaction(client, fn)
      } finally {
        client.release()
      }
    },
  }
}

/** A Db over one connection; nested transactions run inside the enclosing one. */
function clientDb(client: pg.PoolClient, inTx = false): Db {
  return {
    inTransaction: inTx,
    query: async <T>(sql: string, params: readonly unknown[] = []) => {
      const result = await client.query(statement(sql, params))
      return { rows: result.rows as T[] }
    },
    script: async (sql: string) => scriptRows(await client.query(sql)),
    transaction: async <R>(fn: (tx: Db) => Promise<R>) =>
      inTx ? fn(clientDb(client, true)) : inTransaction(client, fn),
  }
}

async function inTransaction<R>(client: pg.PoolClient, fn: (tx: Db) => Promise<R>): Promise<R> {
  await client.query('BEGIN')
  try {
    const result = await fn(clientDb(client, true))
    await client.query('COMMIT')
    return result
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  }
}
