// Test support: PostgreSQL for the `postgres` output (a schema per test), and the psql binary.
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import pg from 'pg'

/** Where tests find PostgreSQL: `SUBROSA_TEST_POSTGRES`, else the local trust-auth default. */
export const TEST_POSTGRES_URL =
  process.env.SUBROSA_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

/** Why PostgreSQL tests must skip (naming what is missing), or false when it answers. */
export async function postgresUnavailable(): Promise<string | false> {
  const client = new pg.Client({
    connectionString: TEST_POSTGRES_URL,
    connectionTimeoutMillis: 3000,
  })
  try {
    await client.connect()
    await client.query('SELECT 1')
  } catch (error) {
    return `PostgreSQL unreachable at ${TEST_POSTGRES_URL} (${(error as Error).message}); set SUBROSA_TEST_POSTGRES or start it`
  } finally {
    await client.end().catch(() => {})
  }
  try {
    await promisify(execFile)('psql', ['--version'])
  } catch {
    return 'psql is not installed (apt-get install postgresql-client)'
  }
  return false
}

/** A fresh schema `ae_<random>` and how to drop it with everything in it. */
export async function createTestSchema(): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `ae_${randomBytes(5).toString('hex')}`
  await query(`CREATE SCHEMA ${name}`)
  return { name, drop: () => query(`DROP SCHEMA IF EXISTS ${name} CASCADE`).then(() => {}) }
}

/** Run SQL on the test database with node-postgres. */
export async function query(
  text: string,
  values: unknown[] = [],
): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL })
  await client.connect()
  try {
    return (await client.query(text, values)).rows
  } finally {
    await client.end()
  }
}

/** A connected client; the caller ends it. */
export async function connect(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL })
  await client.connect()
  return client
}

/** Run the real `psql` (unaligned, tuples only) and return its stdout. */
export async function psql(sql: string): Promise<string> {
  const url = new URL(TEST_POSTGRES_URL)
  const { stdout } = await promisify(execFile)(
    'psql',
    [
      '-h',
      url.hostname,
      '-p',
      url.port || '5432',
      '-U',
      decodeURIComponent(url.username),
      '-At',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      sql,
      url.pathname.slice(1),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  )
  return stdout
}

/** `pg_dump` of one schema (data and definitions), as text. */
export async function pgDump(schema: string): Promise<string> {
  const url = new URL(TEST_POSTGRES_URL)
  const { stdout } = await promisify(execFile)(
    'pg_dump',
    [
      '-h',
      url.hostname,
      '-p',
      url.port || '5432',
      '-U',
      decodeURIComponent(url.username),
      '-n',
      schema,
      url.pathname.slice(1),
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  )
  return stdout
}
