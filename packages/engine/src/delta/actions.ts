// Delta Lake log actions (delta-io/delta PROTOCOL.md, "Actions"): the subset a reader and an
// appending writer need, validated line by line. Unknown fields and unknown action kinds are
// ignored, as the protocol lets them be; a known action that is malformed is a typed error. Error
// messages name the commit and line, never its content (partition values and statistics are data).
import { z } from 'zod'
import { EngineError } from '../errors.ts'

const stringMap = z.record(z.string(), z.string().nullable())

export const protocolSchema = z.object({
  minReaderVersion: z.number().int().min(1),
  minWriterVersion: z.number().int().min(1),
  readerFeatures: z.array(z.string()).nullish(),
  writerFeatures: z.array(z.string()).nullish(),
})

export const metadataSchema = z.object({
  id: z.string(),
  name: z.string().nullish(),
  description: z.string().nullish(),
  format: z.object({ provider: z.string(), options: stringMap.nullish() }),
  schemaString: z.string(),
  partitionColumns: z.array(z.string()),
  configuration: stringMap.nullish(),
  createdTime: z.number().nullish(),
})

const deletionVectorSchema = z.object({
  storageType: z.string(),
  pathOrInlineDv: z.string(),
  offset: z.number().int().nullish(),
  sizeInBytes: z.number().int(),
  cardinality: z.number().int(),
})

export const addSchema = z.object({
  path: z.string().min(1),
  partitionValues: stringMap,
  size: z.number().int().min(0),
  modificationTime: z.number(),
  dataChange: z.boolean(),
  stats: z.string().nullish(),
  tags: stringMap.nullish(),
  deletionVector: deletionVectorSchema.nullish(),
})

export const removeSchema = z.object({
  path: z.string().min(1),
  deletionTimestamp: z.number().nullish(),
  dataChange: z.boolean(),
  partitionValues: stringMap.nullish(),
  size: z.number().int().min(0).nullish(),
  deletionVector: deletionVectorSchema.nullish(),
})

export const commitInfoSchema = z.record(z.string(), z.unknown())

export type DeltaProtocol = z.infer<typeof protocolSchema>
export type DeltaMetadata = z.infer<typeof metadataSchema>
export type DeltaAdd = z.infer<typeof addSchema>
export type DeltaRemove = z.infer<typeof removeSchema>

/** One log action of a kind this engine acts on; others (`txn`, `cdc`, ...) are skipped. */
export type DeltaAction =
  | { readonly protocol: DeltaProtocol }
  | { readonly metaData: DeltaMetadata }
  | { readonly add: DeltaAdd }
  | { readonly remove: DeltaRemove }
  | { readonly commitInfo: Record<string, unknown> }

const SCHEMAS = {
  protocol: protocolSchema,
  metaData: metadataSchema,
  add: addSchema,
  remove: removeSchema,
  commitInfo: commitInfoSchema,
} as const

/** Actions of checkpoints written under the V2 spec, which this engine does not follow. */
const V2_CHECKPOINT_ACTIONS = ['sidecar', 'checkpointMetadata']

/** A malformed-log error naming where, never what. */
export function logError(where: string, why: string, cause?: unknown): EngineError {
  return new EngineError(
    'ERR_ENGINE_DELTA_LOG',
    `Malformed Delta log: ${where}: ${why}`,
    cause === undefined ? {} : { cause },
  )
}

/**
 * The actions of one parsed log entry (a JSON line, or a checkpoint row): every known action key
 * present and not null is validated.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_LOG` for a malformed action; `ERR_ENGINE_DELTA_UNSUPPORTED`
 *   for V2-checkpoint actions.
 */
export function parseActions(entry: unknown, where: string): DeltaAction[] {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    throw logError(where, 'an action is not a JSON object')
  const actions: DeltaAction[] = []
  for (const [kind, value] of Object.entries(entry)) {
    if (value === null || value === undefined) continue
    if (V2_CHECKPOINT_ACTIONS.includes(kind))
      throw new EngineError(
        'ERR_ENGINE_DELTA_UNSUPPORTED',
        `${where}: V2 checkpoints (${kind} actions) are not supported`,
      )
    if (!(kind in SCHEMAS)) continue
    const parsed = SCHEMAS[kind as keyof typeof SCHEMAS].safeParse(value)
    if (!parsed.success) {
      // Field paths only: zod's messages could quote values.
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(action)').join(', ')
      throw logError(where, `invalid ${kind} action (${fields})`)
    }
    actions.push({ [kind]: parsed.data } as DeltaAction)
  }
  return actions
}

/**
 * The actions of a JSON commit file (newline-delimited JSON, one action per line).
 *
 * @throws EngineError `ERR_ENGINE_DELTA_LOG` for a line that is not JSON or not a valid action.
 */
export function parseCommit(bytes: Uint8Array, version: number): DeltaAction[] {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (cause) {
    throw logError(`commit ${version}`, 'not UTF-8', cause)
  }
  const actions: DeltaAction[] = []
  const lines = text.split('\n')
  for (const [i, line] of lines.entries()) {
    if (line.trim() === '') continue
    const where = `commit ${version} line ${i + 1}`
    let entry: unknown
    try {
      entry = JSON.parse(line)
    } catch {
      throw logError(where, 'not JSON')
    }
    actions.push(...parseActions(entry, where))
  }
  return actions
}

/** The unique id of a deletion vector (storage type, path or inline data, offset). */
function deletionVectorId(dv: DeltaAdd['deletionVector']): string {
  if (dv === null || dv === undefined) return ''
  return `${dv.storageType}${dv.pathOrInlineDv}${dv.offset === null || dv.offset === undefined ? '' : `@${dv.offset}`}`
}

/**
 * The key of a logical file: its decoded path and deletion vector id.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_LOG` for a path that is not a valid URI.
 */
export function logicalFileKey(action: DeltaAdd | DeltaRemove, where: string): string {
  return `${decodePath(action.path, where)}\0${deletionVectorId(action.deletionVector)}`
}

/**
 * A data file path from the log (an RFC 2396 URI reference) as a `/`-separated path relative to
 * the table root. Absolute paths and paths out of the table (`..`) are refused.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_LOG` (bad escape, `..`), `ERR_ENGINE_DELTA_UNSUPPORTED`
 *   (absolute paths).
 */
export function decodePath(path: string, where: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('/'))
    throw new EngineError(
      'ERR_ENGINE_DELTA_UNSUPPORTED',
      `${where}: absolute data file paths are not supported`,
    )
  let decoded: string
  try {
    decoded = decodeURIComponent(path)
  } catch (cause) {
    throw logError(where, 'a data file path is not a valid URI', cause)
  }
  const segments = decoded.split('/')
  if (segments.some((s) => s === '' || s === '.' || s === '..' || s.includes('\\')))
    throw logError(where, 'a data file path leaves the table or is empty')
  return decoded
}
