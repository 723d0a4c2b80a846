import { randomUUID } from 'node:crypto'
import { rm } from 'node:fs/promises'
import type { DuckDBType } from '@duckdb/node-api'
import type { JobOutput } from '@subrosa/policy'
import type { WriteOutput } from '../adapters.ts'
import type { DeltaAdd } from '../delta/actions.ts'
import { checkpointReader } from '../delta/checkpoint.ts'
import { CREATED_PROTOCOL, newTableMetadata, writeAppendCommit } from '../delta/commit.ts'
import {
  type DeltaField,
  type DeltaStruct,
  deltaTypeOf,
  encodePath,
  partitionDirectory,
  partitionValueSql,
  sameType,
  sqlIdent,
} from '../delta/schema.ts'
import { checkWritable, listLog, readSnapshot } from '../delta/snapshot.ts'
import { duckDbError } from '../duckdb-session.ts'
import { EngineError } from '../errors.ts'
import { keyIdOf } from '../inputs/parquet.ts'
import { copyQuery, runQuery } from '../query.ts'
import { sqlString } from '../sql.ts'
import { joinLocation } from '../storage/object-store.ts'
import { encryptParquetOutput } from './parquet.ts'

function schemaError(message: string): EngineError {
  return new EngineError('ERR_ENGINE_DELTA_SCHEMA', message)
}

/** Check an append's schema and partition columns against the table's. */
function checkCompatible(
  table: DeltaStruct,
  tablePartitions: readonly string[],
  data: DeltaStruct,
  partitionBy: readonly string[],
): void {
  if (JSON.stringify(tablePartitions) !== JSON.stringify(partitionBy))
    throw schemaError(
      `partitionBy [${partitionBy.join(', ')}] does not match the table's partition columns [${tablePartitions.join(', ')}]`,
    )
  const names = (s: DeltaStruct) => s.fields.map((f) => f.name).sort()
  if (JSON.stringify(names(table)) !== JSON.stringify(names(data)))
    throw schemaError(
      `The result's columns [${data.fields.map((f) => f.name).join(', ')}] are not the table's [${table.fields.map((f) => f.name).join(', ')}]`,
    )
  for (const field of table.fields) {
    const other = data.fields.find((f) => f.name === field.name)
    if (other !== undefined && !sameType(field.type, other.type))
      throw schemaError(
        `Column ${field.name} is ${JSON.stringify(other.type)} in the result but ${JSON.stringify(field.type)} in the table`,
      )
  }
}

/**
 * A Delta output: the result is written once as plaintext Parquet into the scratch dir, split by
 * `partitionBy` into one file per partition (`col=value/part-<uuid>.parquet`, partition columns
 * not stored in the files), each transcoded to PME under a fresh DEK wrapped by the output's key,
 * then one commit appends them (creating the table at version 0 if there is none). No per-file
 * statistics are written: they would be plaintext in the log. On any failure the data files this
 * append wrote are deleted; a lost commit race is `ERR_ENGINE_CONFLICT`.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_SCHEMA`, `ERR_ENGINE_DELTA_UNSUPPORTED`,
 *   `ERR_ENGINE_CONFLICT`, `ERR_ENGINE_OUTPUT`, `ERR_ENGINE_QUERY`; the KMS's errors.
 */
export const writeDeltaOutput: WriteOutput<Extract<JobOutput, { format: 'delta' }>> = async (
  name,
  spec,
  run,
  ctx,
) => {
  const { store, location } = ctx.resolve(spec.uri)
  const exists = (await listLog(store, location)).latest !== undefined
  const snapshot = exists
    ? await readSnapshot(store, location, { readCheckpoint: checkpointReader(store, ctx) })
    : undefined
  if (snapshot !== undefined) checkWritable(snapshot)
  const partitionBy = spec.partitionBy ?? snapshot?.metadata.partitionColumns ?? []
  const id = keyIdOf(spec.key)
  const plain = ctx.scratchPath(`${name}.plain.parquet`)
  const written: string[] = []
  try {
    const rows = await copyQuery(run, plain, 'parquet')
    const source = `read_parquet(${sqlString(plain)}, hive_partitioning = false)`
    const fields: DeltaField[] = []
    try {
      const prepared = await run.session.connection.prepare(`SELECT * FROM ${source}`)
      for (let i = 0; i < prepared.columnCount; i++) {
        const column = prepared.columnName(i)
        const type: DuckDBType = prepared.columnType(i)
        fields.push({ name: column, type: deltaTypeOf(type, column), nullable: true, metadata: {} })
      }
    } catch (error) {
      throw error instanceof EngineError ? error : duckDbError(error)
    }
    const schema: DeltaStruct = { type: 'struct', fields }
    const byName = new Map(fields.map((f) => [f.name, f]))
    if (byName.size !== fields.length) throw schemaError('The result has duplicate column names')
    const partitionFields = partitionBy.map((column) => {
      const field = byName.get(column)
      if (field === undefined) throw schemaError(`Partition column ${column} is not in the result`)
      return field
    })
    const dataFields = fields.filter((f) => !partitionBy.includes(f.name))
    if (dataFields.length === 0) throw schemaError('Every column is a partition column')
    if (snapshot !== undefined) {
      checkCompatible(snapshot.schema, snapshot.metadata.partitionColumns, schema, partitionBy)
      for (const field of snapshot.schema.fields.filter((f) => !f.nullable)) {
        const [nulls] = await runQuery(
          run,
          `SELECT count(*) AS n FROM ${source} WHERE ${sqlIdent(field.name)} IS NULL`,
        )
        if (Number(nulls?.n ?? 0) > 0)
          throw schemaError(`Column ${field.name} is not nullable in the table but has nulls`)
      }
    }
    // One file per distinct partition value tuple (serialized per the protocol; '' is null).
    const valueSql = partitionFields.map((f) => `NULLIF(${partitionValueSql(f)}, '')`)
    const groups: (string | null)[][] =
      partitionFields.length === 0
        ? [[]]
        : (
            await runQuery(
              run,
              `SELECT DISTINCT ${valueSql.map((v, i) => `${v} AS v${i}`).join(', ')} FROM ${source}`,
            )
          ).map((row) => valueSql.map((_, i) => (row[`v${i}`] ?? null) as string | null))
    const now = Date.now()
    const adds: DeltaAdd[] = []
    let bytes = 0
    for (const values of groups) {
      const parameters = { ...run.parameters }
      const where = valueSql.map((v, i) => {
        parameters[`subrosa_partition_${i}`] = values[i] ?? null
        return `${v} IS NOT DISTINCT FROM CAST($subrosa_partition_${i} AS VARCHAR)`
      })
      const file = [
        ...partitionBy.map((column, i) => partitionDirectory(column, values[i] ?? null)),
        `part-${randomUUID()}.parquet`,
      ].join('/')
      // Unpartitioned, the result file is the data file: no second copy.
      const part = partitionFields.length === 0 ? plain : ctx.scratchPath(`${name}.part.parquet`)
      try {
        if (part !== plain)
          await copyQuery({ ...run, parameters }, part, 'parquet', {
            query: `SELECT ${dataFields.map((f) => sqlIdent(f.name)).join(', ')} FROM ${source} WHERE ${where.join(' AND ')}`,
          })
        const target = joinLocation(location, file)
        written.push(target)
        const size = await encryptParquetOutput(name, part, spec.uri, id, ctx, target)
        bytes += size
        adds.push({
          path: encodePath(file),
          partitionValues: Object.fromEntries(partitionBy.map((c, i) => [c, values[i] ?? null])),
          size,
          modificationTime: now,
          dataChange: true,
        })
      } finally {
        if (part !== plain) await rm(part, { force: true })
      }
    }
    await writeAppendCommit(store, location, {
      version: (snapshot?.version ?? -1) + 1,
      ...(snapshot === undefined
        ? {
            create: {
              protocol: CREATED_PROTOCOL,
              metadata: newTableMetadata(schema, partitionBy, now),
            },
          }
        : {}),
      adds,
      partitionBy,
      now,
    })
    return {
      name,
      format: 'delta',
      uri: spec.uri,
      masterKeyId: id,
      rows,
      bytes,
      files: adds.length,
    }
  } catch (error) {
    // Data files of an append that did not commit are in no snapshot; remove them.
    for (const target of written) await store.delete(target).catch(() => {})
    throw error
  } finally {
    await rm(plain, { force: true })
  }
}
