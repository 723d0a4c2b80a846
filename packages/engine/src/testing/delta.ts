// Test helper: Delta checkpoints as Spark lays them out, written by DuckDB. For tests only.
import { sqlString } from '../sql.ts'
import { duck } from './files.ts'

// Struct columns of a V1 checkpoint (PROTOCOL.md, "Checkpoint Schema"), as DuckDB from_json types.
const CHECKPOINT_COLUMNS = {
  protocol: { minReaderVersion: 'INTEGER', minWriterVersion: 'INTEGER' },
  metaData: {
    id: 'VARCHAR',
    format: { provider: 'VARCHAR', options: 'MAP(VARCHAR, VARCHAR)' },
    schemaString: 'VARCHAR',
    partitionColumns: ['VARCHAR'],
    configuration: 'MAP(VARCHAR, VARCHAR)',
    createdTime: 'BIGINT',
  },
  add: {
    path: 'VARCHAR',
    partitionValues: 'MAP(VARCHAR, VARCHAR)',
    size: 'BIGINT',
    modificationTime: 'BIGINT',
    dataChange: 'BOOLEAN',
    stats: 'VARCHAR',
  },
  remove: { path: 'VARCHAR', deletionTimestamp: 'BIGINT', dataChange: 'BOOLEAN' },
}

/** Write checkpoint Parquet rows (one action per row) with DuckDB, as Spark lays them out. */
export async function writeCheckpoint(path: string, actions: readonly object[]): Promise<void> {
  const values = actions.map((a) => `(${sqlString(JSON.stringify(a))})`).join(', ')
  const columns = Object.entries(CHECKPOINT_COLUMNS)
    .map(([k, t]) => `from_json(j->'${k}', ${sqlString(JSON.stringify(t))}) AS "${k}"`)
    .join(', ')
  await duck(
    `COPY (SELECT ${columns} FROM (VALUES ${values}) v(j)) TO ${sqlString(path)} (FORMAT parquet)`,
  )
}
