// Writing a Delta commit: the next version's JSON file, created only if absent, so that of two
// concurrent writers exactly one gets each version (PROTOCOL.md, "Creation of New Log Entries").
import { randomUUID } from 'node:crypto'
import { EngineError } from '../errors.ts'
import { joinLocation, type ObjectStore } from '../storage/object-store.ts'
import type { DeltaAdd, DeltaMetadata, DeltaProtocol } from './actions.ts'
import type { DeltaStruct } from './schema.ts'
import { commitName, logLocation } from './snapshot.ts'

/** The protocol of tables this engine creates: no table features. */
export const CREATED_PROTOCOL: DeltaProtocol = { minReaderVersion: 1, minWriterVersion: 2 }

/** The metadata of a new table. */
export function newTableMetadata(
  schema: DeltaStruct,
  partitionColumns: readonly string[],
  now: number,
): DeltaMetadata {
  return {
    id: randomUUID(),
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify(schema),
    partitionColumns: [...partitionColumns],
    configuration: {},
    createdTime: now,
  }
}

/** What one append commits. */
export type AppendCommit = {
  readonly version: number
  /** For a new table (version 0): its protocol and metadata. */
  readonly create?: { readonly protocol: DeltaProtocol; readonly metadata: DeltaMetadata }
  readonly adds: readonly DeltaAdd[]
  readonly partitionBy: readonly string[]
  readonly now: number
}

/**
 * Write an append as commit `version`: `commitInfo` (with a transaction id), then protocol and
 * metadata for a new table, then the `add` actions. The commit file is created only if absent; if
 * it exists and is not this writer's (a retried create whose answer was lost), the append fails.
 *
 * @throws EngineError `ERR_ENGINE_CONFLICT` when another writer made this version; the store's
 *   errors.
 */
export async function writeAppendCommit(
  store: ObjectStore,
  table: string,
  commit: AppendCommit,
): Promise<void> {
  const txnId = randomUUID()
  const lines: unknown[] = [
    {
      commitInfo: {
        timestamp: commit.now,
        operation: commit.create === undefined ? 'WRITE' : 'CREATE TABLE AS SELECT',
        operationParameters: {
          mode: 'Append',
          partitionBy: JSON.stringify(commit.partitionBy),
        },
        isBlindAppend: true,
        engineInfo: 'subrosa',
        txnId,
      },
    },
  ]
  if (commit.create !== undefined)
    lines.push({ protocol: commit.create.protocol }, { metaData: commit.create.metadata })
  for (const add of commit.adds) lines.push({ add })
  const bytes = new TextEncoder().encode(`${lines.map((l) => JSON.stringify(l)).join('\n')}\n`)
  const location = joinLocation(logLocation(table), commitName(commit.version))
  try {
    await store.putIfAbsent(location, bytes)
  } catch (error) {
    if (error instanceof EngineError && error.code === 'ERR_ENGINE_CONFLICT') {
      const existing = await store.readBytes(location).catch(() => new Uint8Array())
      if (new TextDecoder().decode(existing).includes(`"txnId":"${txnId}"`)) return
      throw new EngineError(
        'ERR_ENGINE_CONFLICT',
        `Another writer committed version ${commit.version} of Delta table ${table} first; nothing was overwritten (run the job again to append after it)`,
      )
    }
    throw error
  }
}
