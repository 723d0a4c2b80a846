import type { DuckDBPreparedStatement, DuckDBType, DuckDBValue } from '@duckdb/node-api'
import type { BoundQuery } from './adapters.ts'
import { duckDbError } from './duckdb-session.ts'
import { EngineError } from './errors.ts'
import { sqlString } from './sql.ts'

/** How often a running query's progress is read (a cheap call into DuckDB). */
const PROGRESS_POLL_MS = 50

/**
 * Run SQL with named parameters, binding only the names the statement uses (DuckDB refuses
 * values for names it does not have). Keys and job parameters are never spliced into the text.
 *
 * @example await runQuery(run, 'SELECT count(*) FROM trips WHERE fare > $min_fare')
 * @throws EngineError `ERR_ENGINE_QUERY`, `ERR_ENGINE_MEMORY` (data values withheld).
 */
export async function runQuery(
  run: BoundQuery,
  sql: string = run.query,
): Promise<Record<string, unknown>[]> {
  try {
    const prepared = await prepareBound(run, sql)
    const timer =
      run.onProgress === undefined
        ? undefined
        : setInterval(() => {
            const p = run.session.connection.progress
            if (p.total_rows_to_process > 0n)
              run.onProgress?.(Number(p.rows_processed), Number(p.total_rows_to_process))
          }, PROGRESS_POLL_MS)
    try {
      return (await prepared.runAndReadAll()).getRowObjects()
    } finally {
      clearInterval(timer)
    }
  } catch (error) {
    throw error instanceof EngineError ? error : duckDbError(error)
  }
}

/** Prepare SQL and bind the named parameters it uses (only those: DuckDB refuses others). */
async function prepareBound(run: BoundQuery, sql: string): Promise<DuckDBPreparedStatement> {
  const prepared = await run.session.connection.prepare(sql)
  const values: Record<string, DuckDBValue> = {}
  for (let i = 1; i <= prepared.parameterCount; i++) {
    const name = prepared.parameterName(i)
    const value = run.parameters[name]
    if (value === undefined)
      throw new EngineError('ERR_ENGINE_QUERY', `The query uses $${name}, which has no value`)
    values[name] = value
  }
  prepared.bind(values)
  return prepared
}

/** A result column: its name and DuckDB type. */
export type ResultColumn = { readonly name: string; readonly type: DuckDBType }

/**
 * Run the query and stream its result: `start` gets the result's columns (also for an empty
 * result) and returns the handler that then gets the rows one DuckDB chunk (up to 2048 rows) at a
 * time, each awaited before the next is read, so a large result never sits in memory whole.
 * Returns the row count.
 *
 * @throws EngineError as {@link runQuery}; what `start` and its handler throw, unchanged.
 */
export async function streamQuery(
  run: BoundQuery,
  start: (
    columns: readonly ResultColumn[],
  ) => Promise<(rows: readonly DuckDBValue[][]) => Promise<void>>,
  sql: string = run.query,
): Promise<number> {
  let result: Awaited<ReturnType<DuckDBPreparedStatement['stream']>>
  try {
    result = await (await prepareBound(run, sql)).stream()
  } catch (error) {
    throw error instanceof EngineError ? error : duckDbError(error)
  }
  const names = result.columnNames()
  const onRows = await start(
    result.columnTypes().map((type, i) => ({ name: names[i] ?? `column${i}`, type })),
  )
  let rows = 0
  for (;;) {
    let chunk: Awaited<ReturnType<typeof result.fetchChunk>>
    try {
      chunk = await result.fetchChunk()
    } catch (error) {
      throw duckDbError(error)
    }
    if (chunk === null || chunk.rowCount === 0) return rows
    rows += chunk.rowCount
    await onRows(chunk.getRows())
  }
}

/** The output formats DuckDB writes into the scratch dir before Subrosa encrypts them. */
export type CopyFormat = 'parquet' | 'csv' | 'jsonl'

const COPY_OPTIONS: Record<CopyFormat, string> = {
  parquet: 'FORMAT parquet, COMPRESSION zstd',
  csv: 'FORMAT csv, HEADER true',
  jsonl: 'FORMAT json',
}

/**
 * Write the query's result as a plaintext file in the TEE's scratch dir; returns the row count.
 *
 * @throws EngineError as {@link runQuery}.
 */
export async function copyQuery(
  run: BoundQuery,
  path: string,
  format: CopyFormat,
  options: { readonly header?: boolean; readonly query?: string } = {},
): Promise<number> {
  const copy =
    format === 'csv' && options.header === false ? 'FORMAT csv, HEADER false' : COPY_OPTIONS[format]
  const rows = await runQuery(
    run,
    `COPY (${options.query ?? run.query}) TO ${sqlString(path)} (${copy})`,
  )
  return Number(Object.values(rows[0] ?? {})[0] ?? 0)
}

/** A job parameter as a DuckDB value: integers as BIGINT, other numbers as DOUBLE. */
export function parameterValue(value: string | number | boolean): DuckDBValue {
  return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : value
}
