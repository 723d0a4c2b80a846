// A Delta table's snapshot at a version: the newest complete checkpoint not after that version,
// then every JSON commit after it, replayed (PROTOCOL.md, "Action Reconciliation"). The log is
// listed; `_last_checkpoint` is not read (a listing is needed anyway to find the commits after
// it, and the listing cannot point at a checkpoint newer than a time-travel version).
import { EngineError } from '../errors.ts'
import { joinLocation, type ObjectStore } from '../storage/object-store.ts'
import {
  type DeltaAction,
  type DeltaAdd,
  type DeltaMetadata,
  type DeltaProtocol,
  logError,
  logicalFileKey,
  parseActions,
  parseCommit,
} from './actions.ts'
import { type DeltaStruct, parseSchemaString } from './schema.ts'

/** The state of a table at one version. */
export type DeltaSnapshot = {
  readonly version: number
  readonly protocol: DeltaProtocol
  readonly metadata: DeltaMetadata
  readonly schema: DeltaStruct
  /** The live data files, in log order. */
  readonly files: readonly DeltaAdd[]
  /** The checkpoint the replay started from, if any. */
  readonly checkpoint: number | undefined
}

/** Reads the rows of checkpoint Parquet parts (local or remote) as plain JSON objects. */
export type CheckpointReader = (locations: readonly string[]) => Promise<unknown[]>

/** The log directory of a table. */
export function logLocation(table: string): string {
  return joinLocation(table, '_delta_log')
}

/** The name of a commit file: the version zero-padded to 20 digits, `.json`. */
export function commitName(version: number): string {
  return `${String(version).padStart(20, '0')}.json`
}

const COMMIT = /^(\d{20})\.json$/
const CLASSIC_CHECKPOINT = /^(\d{20})\.checkpoint\.parquet$/
const PART_CHECKPOINT = /^(\d{20})\.checkpoint\.(\d{10})\.(\d{10})\.parquet$/

/** What the log directory holds: commit versions and complete checkpoints (version -> parts). */
export type DeltaLogListing = {
  readonly commits: ReadonlySet<number>
  readonly checkpoints: ReadonlyMap<number, readonly string[]>
  readonly latest: number | undefined
}

/** List a table's log: commits and complete checkpoints (multi-part ones with all parts). */
export async function listLog(store: ObjectStore, table: string): Promise<DeltaLogListing> {
  const names = await store.list(logLocation(table))
  const commits = new Set<number>()
  const checkpoints = new Map<number, string[]>()
  const parts = new Map<string, Map<number, string>>()
  for (const name of names) {
    let m = COMMIT.exec(name)
    if (m !== null) {
      commits.add(Number(m[1]))
      continue
    }
    m = CLASSIC_CHECKPOINT.exec(name)
    if (m !== null) {
      checkpoints.set(Number(m[1]), [name])
      continue
    }
    m = PART_CHECKPOINT.exec(name)
    if (m !== null) {
      const key = `${m[1]}/${Number(m[3])}`
      const set = parts.get(key) ?? new Map<number, string>()
      set.set(Number(m[2]), name)
      parts.set(key, set)
    }
  }
  for (const [key, set] of parts) {
    const [version = '', count = ''] = key.split('/')
    const p = Number(count)
    const names = Array.from({ length: p }, (_, i) => set.get(i + 1))
    // Readers must ignore multi-part checkpoints with missing parts; a classic one is preferred.
    if (p > 0 && names.every((n) => n !== undefined) && !checkpoints.has(Number(version)))
      checkpoints.set(Number(version), names as string[])
  }
  const versions = [...commits, ...checkpoints.keys()]
  return {
    commits,
    checkpoints,
    latest: versions.length === 0 ? undefined : Math.max(...versions),
  }
}

/**
 * Reconstruct a table's snapshot at `version` (default the latest).
 *
 * @example const snapshot = await readSnapshot(store, '/lake/trips', { readCheckpoint })
 * @throws EngineError `ERR_ENGINE_INPUT` (no table, no such version), `ERR_ENGINE_DELTA_LOG`
 *   (malformed or missing commits, no protocol or metadata), `ERR_ENGINE_DELTA_UNSUPPORTED`
 *   (reader protocol or features); the store's errors.
 */
export async function readSnapshot(
  store: ObjectStore,
  table: string,
  options: { readonly version?: number | undefined; readonly readCheckpoint: CheckpointReader },
): Promise<DeltaSnapshot> {
  const log = await listLog(store, table)
  if (log.latest === undefined)
    throw new EngineError('ERR_ENGINE_INPUT', `${table} is not a Delta table (no _delta_log)`)
  const version = options.version ?? log.latest
  if (version > log.latest || (!log.commits.has(version) && !log.checkpoints.has(version)))
    throw new EngineError(
      'ERR_ENGINE_INPUT',
      `Delta table ${table} has no version ${version} (latest: ${log.latest})`,
    )
  const start = Math.max(-1, ...[...log.checkpoints.keys()].filter((v) => v <= version))
  if (start === -1 && !log.commits.has(0)) {
    const first = Math.min(...log.commits, ...log.checkpoints.keys())
    throw new EngineError(
      'ERR_ENGINE_INPUT',
      `Delta table ${table} cannot be read at version ${version}: its log starts at ${first}, with no checkpoint at or before ${version}`,
    )
  }
  let protocol: DeltaProtocol | undefined
  let metadata: DeltaMetadata | undefined
  const files = new Map<string, DeltaAdd>()
  const apply = (actions: readonly DeltaAction[], where: string) => {
    // Within one version, removes apply before adds (a file re-added with a new deletion vector).
    for (const a of actions) if ('remove' in a) files.delete(logicalFileKey(a.remove, where))
    for (const a of actions) {
      if ('protocol' in a) protocol = a.protocol
      else if ('metaData' in a) metadata = a.metaData
      else if ('add' in a) files.set(logicalFileKey(a.add, where), a.add)
    }
  }
  if (start >= 0) {
    const parts = (log.checkpoints.get(start) ?? []).map((n) => joinLocation(logLocation(table), n))
    const rows = await options.readCheckpoint(parts)
    const where = `checkpoint ${start}`
    const actions = rows.flatMap((row) => parseActions(stripNulls(row), where))
    // A checkpoint holds reconciled state: its removes are tombstones, not to replay over adds.
    apply(
      actions.filter((a) => !('remove' in a)),
      where,
    )
  }
  for (let v = start + 1; v <= version; v++) {
    if (!log.commits.has(v)) throw logError(`version ${v}`, 'the commit is missing')
    const bytes = await store.readBytes(joinLocation(logLocation(table), commitName(v)))
    apply(parseCommit(bytes, v), `commit ${v}`)
  }
  if (protocol === undefined) throw logError(`version ${version}`, 'no protocol action')
  if (metadata === undefined) throw logError(`version ${version}`, 'no metaData action')
  const snapshot: DeltaSnapshot = {
    version,
    protocol,
    metadata,
    schema: parseSchemaString(metadata.schemaString),
    files: [...files.values()],
    checkpoint: start >= 0 ? start : undefined,
  }
  checkReadable(snapshot)
  return snapshot
}

/** Reader features this engine honours (none changes how plain data files are read). */
const READER_FEATURES = ['timestampNtz', 'vacuumProtocolCheck']

function unsupported(message: string): EngineError {
  return new EngineError('ERR_ENGINE_DELTA_UNSUPPORTED', message)
}

/**
 * Refuse a table this engine cannot read correctly: reader version above 3, column mapping
 * (reader version 2, or the feature), and any reader feature not in {@link READER_FEATURES}
 * (deletion vectors among them); a data format other than Parquet.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_UNSUPPORTED`.
 */
export function checkReadable(snapshot: Pick<DeltaSnapshot, 'protocol' | 'metadata'>): void {
  const { minReaderVersion, readerFeatures } = snapshot.protocol
  if (minReaderVersion > 3)
    throw unsupported(`Delta reader version ${minReaderVersion} is not supported (at most 3)`)
  if (minReaderVersion === 2)
    throw unsupported('Delta reader version 2 (column mapping) is not supported')
  if (minReaderVersion === 3) {
    const refused = (readerFeatures ?? []).filter((f) => !READER_FEATURES.includes(f))
    if (refused.length > 0)
      throw unsupported(`Delta reader features not supported: ${refused.join(', ')}`)
  }
  if (snapshot.metadata.format.provider !== 'parquet')
    throw unsupported(
      `Delta tables of ${snapshot.metadata.format.provider} files are not supported`,
    )
}

/** Writer features an append honours: append-only (we only append), invariants (none present). */
const WRITER_FEATURES = ['appendOnly', 'invariants', 'timestampNtz', 'vacuumProtocolCheck']

/**
 * Refuse appending to a table whose writer protocol asks for what this writer does not do:
 * writer versions 3 to 6 (CHECK constraints, change data feed, generated and identity columns,
 * column mapping), writer features other than {@link WRITER_FEATURES}, and column invariants.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_UNSUPPORTED`.
 */
export function checkWritable(snapshot: DeltaSnapshot): void {
  checkReadable(snapshot)
  const { minWriterVersion, writerFeatures } = snapshot.protocol
  if (minWriterVersion > 7 || (minWriterVersion > 2 && minWriterVersion < 7))
    throw unsupported(`Delta writer version ${minWriterVersion} is not supported (2 or 7)`)
  if (minWriterVersion === 7) {
    const refused = (writerFeatures ?? []).filter((f) => !WRITER_FEATURES.includes(f))
    if (refused.length > 0)
      throw unsupported(`Delta writer features not supported: ${refused.join(', ')}`)
  }
  if (JSON.stringify(snapshot.schema).includes('"delta.invariants"'))
    throw unsupported('Delta column invariants are not supported: the table cannot be appended to')
}

/** Drop null members recursively (checkpoint rows have a null for every absent field). */
function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls)
  if (typeof value !== 'object' || value === null) return value
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = stripNulls(v)
  return out
}
