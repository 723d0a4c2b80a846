import type { JobInput } from '@subrosa/policy'
import type { OpenInput } from '../adapters.ts'
import { fieldsToRead } from '../columns.ts'
import { decodePath } from '../delta/actions.ts'
import { checkpointReader } from '../delta/checkpoint.ts'
import { duckDbTypeOf, partitionColumnSql, sqlIdent } from '../delta/schema.ts'
import { readSnapshot } from '../delta/snapshot.ts'
import { EngineError } from '../errors.ts'
import { joinLocation } from '../storage/object-store.ts'
import { type FetchedInput, fetchInput } from './fetch.ts'
import {
  keyIdOf,
  type OpenedParquetFile,
  openParquetFile,
  readKeyMaterialSidecar,
} from './parquet.ts'

/**
 * A Delta table input: the snapshot at `version` (default the latest) is reconstructed from the
 * log, every live data file (PME Parquet) is opened as a Parquet input is (keys unwrapped through
 * the KMS, the job's key checked first), partition values become typed columns (bound
 * parameters), and the union is one relation with the table's columns in schema order.
 *
 * @throws EngineError `ERR_ENGINE_INPUT`, `ERR_ENGINE_KEY_MISMATCH` (files under another master
 *   key than the job names, or under different ones), `ERR_ENGINE_DELTA_LOG`,
 *   `ERR_ENGINE_DELTA_UNSUPPORTED`; CryptoError for tampered files; the KMS's errors.
 */
export const openDeltaInput: OpenInput<Extract<JobInput, { format: 'delta' }>> = async (
  name,
  spec,
  ctx,
) => {
  const { store, location } = ctx.resolve(spec.uri)
  const snapshot = await readSnapshot(store, location, {
    version: spec.version,
    readCheckpoint: checkpointReader(store, ctx),
  })
  const partitionColumns = snapshot.metadata.partitionColumns
  const fields = snapshot.schema.fields
  for (const column of partitionColumns)
    if (!fields.some((f) => f.name === column))
      throw new EngineError(
        'ERR_ENGINE_DELTA_LOG',
        `Malformed Delta log: partition column ${column} is not in the schema`,
      )
  // The data files' fields the queries read, decided once for the table so every file's part of
  // the union has the same columns (partition columns come from the log, not the files).
  const dataFields = fields.map((f) => f.name).filter((n) => !partitionColumns.includes(n))
  const read = fieldsToRead(await ctx.referenced(), name, dataFields)
  const opened: { file: OpenedParquetFile; fetched: FetchedInput }[] = []
  const closeAll = async () => {
    for (const { file, fetched } of opened) {
      await file.close()
      await fetched.close()
    }
  }
  try {
    let masterKeyId: string | undefined
    for (const add of snapshot.files) {
      const fileLocation = joinLocation(
        location,
        decodePath(add.path, `version ${snapshot.version}`),
      )
      const keyMaterial = await readKeyMaterialSidecar(store, fileLocation)
      const fetched = await fetchInput(name, spec.uri, ctx, fileLocation)
      let file: OpenedParquetFile
      try {
        file = await openParquetFile(
          name,
          fetched.path,
          { key: spec.key, keyMaterial, ...(read === undefined ? {} : { fields: read }) },
          ctx,
        )
      } catch (error) {
        await fetched.close()
        throw error
      }
      opened.push({ file, fetched })
      if (masterKeyId !== undefined && file.masterKeyId !== masterKeyId)
        throw new EngineError(
          'ERR_ENGINE_KEY_MISMATCH',
          `Delta input ${name} has data files under different master keys (${masterKeyId}, ${file.masterKeyId})`,
        )
      masterKeyId = file.masterKeyId
    }
    // Columns whose keys the workload lacks are left out of every file's part of the union.
    const dropped = new Set(opened.flatMap(({ file }) => file.droppedColumns))
    const kept = fields.filter(
      (f) =>
        partitionColumns.includes(f.name) ||
        (!dropped.has(f.name) && (read === undefined || read.has(f.name))),
    )
    const parameters: Record<string, string> = {}
    const parts = opened.map(({ file }, i) => {
      const add = snapshot.files[i]
      const columns = kept.map((f) => {
        if (!partitionColumns.includes(f.name)) return sqlIdent(f.name)
        const value = add?.partitionValues[f.name]
        const parameter = ctx.parameterName()
        if (value !== null && value !== undefined && value !== '') parameters[parameter] = value
        return `${partitionColumnSql(f, value, parameter)} AS ${sqlIdent(f.name)}`
      })
      return `SELECT ${columns.join(', ')} FROM ${file.relation}`
    })
    const empty = `SELECT ${kept.map((f) => `CAST(NULL AS ${duckDbTypeOf(f.type)}) AS ${sqlIdent(f.name)}`).join(', ')} WHERE false`
    const relation = `(${parts.length === 0 ? empty : parts.join('\nUNION ALL\n')})`
    return {
      relation,
      parameters: Object.assign(
        {},
        parameters,
        ...opened.map(({ file }) => file.parameters),
      ) as OpenedParquetFile['parameters'],
      readablePaths: opened.flatMap(({ file }) => file.readablePaths),
      summary: {
        name,
        format: 'delta',
        uri: spec.uri,
        masterKeyId: masterKeyId ?? (spec.key === undefined ? '' : keyIdOf(spec.key)),
        bytes: opened.reduce((n, { file }) => n + file.bytes, 0),
        files: opened.length,
        read: opened.every(({ file }) => file.read === 'native') ? 'native' : 'scratch',
        droppedColumns: [...dropped],
        ...(read === undefined || opened.every(({ file }) => file.read === 'native')
          ? {}
          : { columns: dataFields.filter((f) => read.has(f) && !dropped.has(f)) }),
      },
      close: closeAll,
    }
  } catch (error) {
    await closeAll()
    throw error
  }
}
