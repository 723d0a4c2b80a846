import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { BrokerError } from './errors.ts'
import { openPostgresStore } from './store/postgres.ts'
import { type Db, openPgliteStore, type Store } from './store/store.ts'

/** The `broker_state` rows by name. */
export async function loadState(db: Db): Promise<Map<string, Uint8Array>> {
  const rows = (
    await db.query<{ name: string; value: Uint8Array }>('SELECT name, value FROM broker_state')
  ).rows
  return new Map(rows.map((r) => [r.name, new Uint8Array(r.value)]))
}

export function required(state: Map<string, Uint8Array>, name: string): Uint8Array {
  const value = state.get(name)
  if (value === undefined) throw new BrokerError('ERR_BROKER_STATE', `Broker state lacks ${name}`)
  return value
}

export async function upsert(db: Db, name: string, value: Uint8Array): Promise<void> {
  await db.query(
    'INSERT INTO broker_state (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value',
    [name, value],
  )
}

/** Open the store of a (stopped) broker: PostgreSQL when `postgres` is given, else the PGlite store
 * of its data directory. */
export async function openDataDir(dataDir: string, postgres?: string): Promise<Store> {
  if (postgres !== undefined) return openPostgresStore(postgres)
  const pgdata = join(dataDir, 'pgdata')
  if (!existsSync(pgdata))
    throw new BrokerError('ERR_BROKER_STATE', `${dataDir} holds no broker state`)
  return openPgliteStore(pgdata)
}
