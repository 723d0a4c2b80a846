import { randomBytes } from 'node:crypto'
import type { DuckDBValue } from '@duckdb/node-api'
import { AE_ALGORITHM, CEK_LENGTH, deriveCellKeys, formatAeSqlType } from '@subrosa/crypto'
import type { JobOutput } from '@subrosa/policy'
import {
  type ColumnCipher,
  columnKeysTableDdl,
  encryptColumnValue,
  quoteIdent,
  readColumnKeys,
  tableNames,
  unwrapColumnKeys,
  wipeColumnCiphers,
} from '@subrosa/sdk'
import pg from 'pg'
import type { EngineContext, WriteOutput } from '../adapters.ts'
import { EngineError } from '../errors.ts'
import { keyIdOf } from '../inputs/parquet.ts'
import { type ResultColumn, streamQuery } from '../query.ts'
import { aeTypeOf, aeValueOf, postgresTypeOf, postgresValueOf } from './sql-types.ts'

type PostgresOutput = Extract<JobOutput, { format: 'postgres' }>

/** PostgreSQL takes at most 65535 bound parameters per statement. */
const MAX_PARAMETERS = 60_000

/**
 * A PostgreSQL output: the result is streamed from DuckDB into `table` in one transaction, the
 * columns named in `encryptedColumns` as Always Encrypted cells (bytea) under one fresh column
 * encryption key each, wrapped by the output's master key and recorded in `subrosa_column_keys`.
 * Values and keys travel only as bound parameters. The password comes from PGPASSWORD.
 */
export const writePostgresOutput: WriteOutput<PostgresOutput> = async (name, spec, run, ctx) => {
  const masterKeyId = keyIdOf(spec.key)
  const client = new pg.Client({ connectionString: spec.uri })
  await client.connect().catch((cause: unknown) => {
    throw new EngineError(
      'ERR_ENGINE_OUTPUT',
      `Cannot connect to PostgreSQL for output ${name} (${spec.uri}): ${pgCode(cause)}`,
    )
  })
  let ciphers = new Map<string, ColumnCipher>()
  let bytes = 0
  try {
    await sql(client, name, 'BEGIN')
    const rows = await streamQuery(run, async (columns) => {
      ciphers = await prepareTable(client, name, spec, masterKeyId, columns, ctx)
      const list = columns.map((c) => quoteIdent(c.name)).join(', ')
      const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / columns.length))
      let written = 0
      return async (chunk) => {
        for (let start = 0; start < chunk.length; start += perStatement) {
          const batch = chunk.slice(start, start + perStatement)
          const values: unknown[] = []
          const tuples = batch.map((row) => {
            const slots = columns.map((column, i) => {
              values.push(
                cellOrValue(ciphers.get(column.name), row[i] ?? null, (n) => {
                  bytes += n
                }),
              )
              return `$${values.length}`
            })
            return `(${slots.join(', ')})`
          })
          await sql(
            client,
            name,
            `INSERT INTO ${tableNames(spec.table).quoted} (${list}) VALUES ${tuples.join(', ')}`,
            values,
          )
          written += batch.length
          ctx.onProgress?.({ phase: 'output', output: name, rows: written, bytes, total: 0 })
        }
      }
    })
    await sql(client, name, 'COMMIT')
    return { name, format: 'postgres', uri: spec.uri, masterKeyId, rows, bytes, files: 0 }
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {})
    throw error
  } finally {
    wipeColumnCiphers(ciphers)
    await client.end().catch(() => {})
  }
}

function cellOrValue(
  cipher: ColumnCipher | undefined,
  value: DuckDBValue,
  count: (bytes: number) => void,
): unknown {
  if (cipher === undefined || value === null) return postgresValueOf(value)
  const cell = encryptColumnValue(cipher, aeValueOf(value))
  count(cell.length)
  return Buffer.from(cell.buffer, cell.byteOffset, cell.length)
}

/**
 * Create, replace or check the table for the result's columns, and return the ciphers of its
 * encrypted columns: fresh CEKs (wrapped and recorded) for a new table, the recorded ones
 * (unwrapped through the KMS) when appending.
 */
async function prepareTable(
  client: pg.Client,
  name: string,
  spec: PostgresOutput,
  masterKeyId: string,
  columns: readonly ResultColumn[],
  ctx: EngineContext,
): Promise<Map<string, ColumnCipher>> {
  const table = tableNames(spec.table)
  const byName = new Map(columns.map((c) => [c.name, c]))
  for (const column of Object.keys(spec.encryptedColumns))
    if (!byName.has(column))
      throw new EngineError(
        'ERR_ENGINE_OUTPUT',
        `Output ${name} encrypts column ${column}, which its query does not return`,
      )
  const aeTypes = new Map(
    columns
      .filter((c) => spec.encryptedColumns[c.name] !== undefined)
      .map((c) => [c.name, aeTypeOf(c.name, c.type)]),
  )
  await sql(client, name, columnKeysTableDdl(spec.table))
  const found = await sql(client, name, 'SELECT to_regclass($1) IS NOT NULL AS present', [
    table.quoted,
  ])
  const exists = found.rows[0]?.present === true
  if (exists && spec.mode === 'create')
    throw new EngineError(
      'ERR_ENGINE_CONFLICT',
      `Table ${spec.table} exists; output ${name} has mode create (use append or replace)`,
    )
  if (exists && spec.mode === 'append')
    return reuseColumnKeys(client, name, spec, masterKeyId, columns, aeTypes, ctx)
  if (exists) {
    await sql(client, name, `DROP TABLE ${table.quoted}`)
    await sql(client, name, `DELETE FROM ${table.keysTable} WHERE table_name = $1`, [table.name])
  } else {
    await sql(client, name, `DELETE FROM ${table.keysTable} WHERE table_name = $1`, [table.name])
  }
  const definition = columns
    .map((c) => `${quoteIdent(c.name)} ${aeTypes.has(c.name) ? 'bytea' : postgresTypeOf(c.type)}`)
    .join(', ')
  await sql(client, name, `CREATE TABLE ${table.quoted} (${definition})`)
  const ciphers = new Map<string, ColumnCipher>()
  for (const [column, type] of aeTypes) {
    const encryption = spec.encryptedColumns[column] ?? 'randomized'
    const cek = new Uint8Array(randomBytes(CEK_LENGTH))
    try {
      const wrapped = await ctx.kms.wrapKey(cek, masterKeyId)
      await sql(
        client,
        name,
        `INSERT INTO ${table.keysTable}
           (table_name, column_name, sql_type, encryption_type, algorithm, master_key_id, wrapped_cek)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [table.name, column, formatAeSqlType(type), encryption, AE_ALGORITHM, masterKeyId, wrapped],
      )
      ciphers.set(column, { column, type, encryption, keys: deriveCellKeys(cek) })
    } finally {
      cek.fill(0)
    }
  }
  return ciphers
}

/** Appending: the table must have the result's columns and the same encrypted columns. */
async function reuseColumnKeys(
  client: pg.Client,
  name: string,
  spec: PostgresOutput,
  masterKeyId: string,
  columns: readonly ResultColumn[],
  aeTypes: ReadonlyMap<string, ReturnType<typeof aeTypeOf>>,
  ctx: EngineContext,
): Promise<Map<string, ColumnCipher>> {
  const table = tableNames(spec.table)
  const existing = await sql(
    client,
    name,
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2`,
    [table.schema ?? null, table.name],
  )
  const have = new Set(existing.rows.map((r) => String(r.column_name)))
  const mismatch = (why: string) =>
    new EngineError('ERR_ENGINE_OUTPUT', `Cannot append output ${name} to ${spec.table}: ${why}`)
  for (const c of columns) if (!have.has(c.name)) throw mismatch(`it has no column ${c.name}`)
  const records = await readColumnKeys(client, spec.table)
  const recorded = new Map(records.map((r) => [r.column, r]))
  for (const [column, type] of aeTypes) {
    const record = recorded.get(column)
    if (record === undefined) throw mismatch(`its column ${column} is not encrypted`)
    if (record.encryption !== spec.encryptedColumns[column])
      throw mismatch(`column ${column} is ${record.encryption}`)
    if (record.sqlType !== formatAeSqlType(type))
      throw mismatch(`column ${column} holds ${record.sqlType}, not ${formatAeSqlType(type)}`)
    if (record.masterKeyId !== masterKeyId)
      throw mismatch(`the key of column ${column} is wrapped by another master key`)
  }
  for (const record of records)
    if (!aeTypes.has(record.column) && columns.some((c) => c.name === record.column))
      throw mismatch(`its column ${record.column} is encrypted; the output does not encrypt it`)
  return unwrapColumnKeys(
    records.filter((r) => aeTypes.has(r.column)),
    ctx.kms,
  )
}

/** PostgreSQL's SQLSTATE of an error, never its message (which can quote values). */
function pgCode(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? `SQLSTATE ${code}` : 'no answer'
}

/**
 * Run one statement. Failures keep the SQLSTATE; the message only for structural errors (class 42
 * syntax or undefined objects, 3F schema), which describe the SQL, not data.
 */
async function sql(
  client: pg.Client,
  name: string,
  text: string,
  values: unknown[] = [],
): Promise<pg.QueryResult<Record<string, unknown>>> {
  try {
    return await client.query(text, values)
  } catch (error) {
    const code = pgCode(error)
    const structural = /^SQLSTATE (42|3F)/.test(code) && error instanceof Error
    throw new EngineError(
      'ERR_ENGINE_OUTPUT',
      `PostgreSQL refused output ${name} (${code})${structural ? `: ${error.message.slice(0, 300)}` : ''}`,
    )
  }
}
