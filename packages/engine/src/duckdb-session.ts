import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'
import { EngineError } from './errors.ts'

/** Per-job DuckDB limits. */
export type DuckDbLimits = {
  readonly memory?: string | undefined
  readonly threads?: number | undefined
}

/** A hardened, per-job DuckDB: in memory, locked configuration, file access limited. */
export type DuckDbSession = { readonly connection: DuckDBConnection; close(): void }

/**
 * Open an in-memory DuckDB for one job: extension install/autoload off, spill files encrypted
 * (`temp_file_encryption`; without httpfs DuckDB then refuses to spill, so jobs must fit in
 * `memory`), temp directory in the private scratch dir, file access limited to the job's inputs
 * and scratch dir, query logging off, and the configuration locked before any job SQL runs.
 */
export async function openDuckDb(options: {
  readonly scratchDir: string
  readonly readablePaths: readonly string[]
  readonly limits?: DuckDbLimits
  /**
   * DuckDB reads encrypted Parquet itself. DuckDB 1.5 fails its tag check when a scan of an
   * encrypted file skips pages, which filter pushdown, join filter pushdown and top-N dynamic filters
   * do; those optimizers are then disabled (results stay exact; scans read every page).
   */
  readonly encryptedScans?: boolean
}): Promise<DuckDbSession> {
  const temp = join(options.scratchDir, 'duckdb-tmp')
  await mkdir(temp, { recursive: true, mode: 0o700 })
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(options.limits?.threads ?? 2),
    memory_limit: options.limits?.memory ?? '4GB',
    temp_directory: temp,
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
  })
  const connection = await instance.connect()
  try {
    await connection.run('SET temp_file_encryption = true')
    await connection.run('SET enable_logging = false')
    // Progress is polled by the engine (rows processed), never printed by DuckDB.
    await connection.run('SET enable_progress_bar = true')
    await connection.run('SET enable_progress_bar_print = false')
    await connection.run('SET progress_bar_time = 0')
    if (options.encryptedScans === true) {
      await connection.run("SET disabled_optimizers = 'filter_pushdown,join_filter_pushdown,top_n'")
    }
    const list = (xs: readonly string[]) =>
      `[${xs.map((x) => `'${x.replaceAll("'", "''")}'`).join(', ')}]`
    await connection.run(`SET allowed_paths = ${list(options.readablePaths)}`)
    await connection.run(`SET allowed_directories = ${list([`${options.scratchDir}/`])}`)
    await connection.run('SET enable_external_access = false')
    await connection.run('SET lock_configuration = true')
  } catch (cause) {
    connection.closeSync()
    instance.closeSync()
    throw new EngineError('ERR_ENGINE_UNSUPPORTED', 'Cannot harden DuckDB for this job', { cause })
  }
  return {
    connection,
    close() {
      connection.closeSync()
      instance.closeSync()
    },
  }
}

const STRUCTURAL = /^(Parser|Binder|Catalog|Not implemented|Permission) Error/

/**
 * Turn a DuckDB failure into an engine error without leaking data: parser, binder, catalog and
 * permission messages describe the SQL and are kept; others (conversion errors, for example)
 * can quote values, so only their kind is kept.
 */
export function duckDbError(error: unknown): EngineError {
  const message = error instanceof Error ? error.message : String(error)
  const kind = /^([A-Za-z ]+ Error)/.exec(message)?.[1] ?? 'DuckDB error'
  if (/Out of Memory|read-only crypto module|could not allocate/i.test(message)) {
    return new EngineError(
      'ERR_ENGINE_MEMORY',
      `${kind}: the job exceeds its memory limit and DuckDB may not spill unencrypted`,
    )
  }
  const detail = STRUCTURAL.test(message)
    ? (message.split('\n')[0]?.slice(0, 500) ?? kind)
    : `${kind} (details withheld: they may quote data)`
  return new EngineError('ERR_ENGINE_QUERY', `Query failed: ${detail}`)
}
