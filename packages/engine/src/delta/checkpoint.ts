// Checkpoint Parquet files (plaintext Parquet, struct columns `add`, `remove`, `metaData`,
// `protocol`, ...) read by DuckDB, each row as JSON. Remote parts are fetched into the scratch dir
// first; DuckDB runs hardened and may read those parts only.
import { rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { EngineContext } from '../adapters.ts'
import { openDuckDb } from '../duckdb-session.ts'
import { sqlString } from '../sql.ts'
import type { ObjectStore } from '../storage/object-store.ts'
import { logError } from './actions.ts'
import type { CheckpointReader } from './snapshot.ts'

/**
 * Read the rows of local checkpoint Parquet files, each as the JSON of its struct columns.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_LOG` when DuckDB cannot read them as Parquet.
 */
export async function readCheckpointFiles(
  paths: readonly string[],
  scratchDir: string,
): Promise<unknown[]> {
  const session = await openDuckDb({ scratchDir, readablePaths: paths, limits: { threads: 1 } })
  try {
    const list = `[${paths.map(sqlString).join(', ')}]`
    const result = await session.connection
      .runAndReadAll(
        `SELECT to_json(c)::VARCHAR AS j FROM read_parquet(${list}, hive_partitioning = false, union_by_name = true) c`,
      )
      .catch(() => {
        // DuckDB's message is not kept: it could quote the file's content.
        throw logError('checkpoint', 'not a readable Parquet file')
      })
    return result.getRowObjects().map((row) => JSON.parse(String(row.j)) as unknown)
  } finally {
    session.close()
  }
}

/** A checkpoint reader for a job: parts fetched from the store into the scratch dir if remote. */
export function checkpointReader(store: ObjectStore, ctx: EngineContext): CheckpointReader {
  return async (locations) => {
    const local: string[] = []
    const fetched: string[] = []
    try {
      for (const location of locations) {
        if (store.kind === 'local') {
          local.push(location)
          continue
        }
        const path = ctx.scratchPath('delta-checkpoint.parquet')
        fetched.push(path)
        await store.download(location, path)
        local.push(path)
      }
      return await readCheckpointFiles(local, dirname(ctx.scratchPath('checkpoint')))
    } finally {
      for (const path of fetched) await rm(path, { force: true })
    }
  }
}
