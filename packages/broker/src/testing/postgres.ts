// Test support: a fresh PostgreSQL database per test, or a reason to skip.
import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** Where tests find PostgreSQL: `SUBROSA_TEST_POSTGRES`, else the local trust-auth default. */
export const TEST_POSTGRES_URL =
  process.env.SUBROSA_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

let probe: Promise<string | false> | undefined

/**
 * Why PostgreSQL tests must skip (a message naming what is missing), or false when PostgreSQL
 * answers. Probed once per process, with a short timeout.
 */
export function postgresUnavailable(): Promise<string | false> {
  probe ??= (async () => {
    const client = new pg.Client({
      connectionString: TEST_POSTGRES_URL,
      connectionTimeoutMillis: 3000,
    })
    try {
      await client.connect()
      await client.query('SELECT 1')
      return false
    } catch (error) {
      return `PostgreSQL unreachable at ${TEST_POSTGRES_URL} (${(error as Error).message}); set SUBROSA_TEST_POSTGRES or start it (.ci/run does)`
    } finally {
      await client.end().catch(() => {})
    }
  })()
  return probe
}

/** A database created for one test, and how to drop it. */
export type TestDatabase = { readonly url: string; drop(): Promise<void> }

/** `CREATE DATABASE subrosa_t_<random>` on the test server; `drop()` removes it again. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `subrosa_t_${randomBytes(6).toString('hex')}`
  const admin = async (sql: string) => {
    const client = new pg.Client({ connectionString: TEST_POSTGRES_URL })
    await client.connect()
    try {
      await client.query(sql)
    } finally {
      await client.end()
    }
  }
  await admin(`CREATE DATABASE ${name}`)
  const url = new URL(TEST_POSTGRES_URL)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  }
}

/** The store backends a test can run against: PGlite always, PostgreSQL when reachable. */
export type TestBackend = 'pglite' | 'postgres'

/** The backend `startTestBroker` uses by default: `SUBROSA_TEST_BACKEND`, else PGlite. */
export function defaultTestBackend(): TestBackend {
  return process.env.SUBROSA_TEST_BACKEND === 'postgres' ? 'postgres' : 'pglite'
}

/** Process ids of the PostgreSQL backends serving the database at `url` (other than this query's). */
export async function backendPids(url: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const rows = (
      await client.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      )
    ).rows
    return rows.map((r) => r.pid)
  } finally {
    await client.end()
  }
}
