import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { DuckDBValue } from '@duckdb/node-api'
import type { Job, JobInput, JobOutput } from '@subrosa/policy'
import type {
  EngineContext,
  InputSummary,
  JobContext,
  OpenedInput,
  OpenInput,
  OutputSummary,
  WriteOutput,
} from './adapters.ts'
import { type ReferencedColumns, referencedColumns } from './columns.ts'
import { openDuckDb } from './duckdb-session.ts'
import { EngineError } from './errors.ts'
import { openDeltaInput } from './inputs/delta.ts'
import { openParquetInput } from './inputs/parquet.ts'
import { openStreamInput } from './inputs/stream.ts'
import { writeDeltaOutput } from './outputs/delta.ts'
import { writeParquetOutput } from './outputs/parquet.ts'
import { writePostgresOutput } from './outputs/postgres.ts'
import { writeStreamOutput } from './outputs/stream.ts'
import { resolveParameters } from './parameters.ts'
import { composeQuery } from './sql.ts'
import { createLocalStore, localPath } from './storage/object-store.ts'

/** The outcome of a job; no data values, only counts and identifiers. */
export type JobSummary = {
  readonly job: string
  readonly inputs: readonly InputSummary[]
  readonly outputs: readonly OutputSummary[]
  readonly durationMs: number
}

type Openers = { [F in JobInput['format']]?: OpenInput<Extract<JobInput, { format: F }>> }
type Writers = { [F in JobOutput['format']]?: WriteOutput<Extract<JobOutput, { format: F }>> }

const OPENERS: Openers = {
  parquet: openParquetInput,
  csv: openStreamInput,
  jsonl: openStreamInput,
  delta: openDeltaInput,
}
const WRITERS: Writers = {
  parquet: writeParquetOutput,
  csv: writeStreamOutput,
  jsonl: writeStreamOutput,
  postgres: writePostgresOutput,
  delta: writeDeltaOutput,
}

/**
 * Run a job: open every input (keys unwrapped through the KMS and checked against the job,
 * non-Parquet and non-uniform files decrypted into the TEE's scratch dir), run each output's query
 * in one hardened DuckDB with keys and job parameters as bound named parameters, and write each
 * output encrypted under a fresh DEK wrapped by its master key. Plaintext exists only in DuckDB's
 * memory and the job's scratch dir, which is removed at the end. Outputs are written in order,
 * each atomically; a failure stops the job.
 *
 * @example const summary = await runJob(parseJob(yaml), { kms, scratchDir, baseDir, kmsInstance })
 * @throws EngineError; CryptoError for unreadable or tampered inputs; the KMS's errors.
 */
export async function runJob(job: Job, context: JobContext): Promise<JobSummary> {
  const started = Date.now()
  if (job.engine !== 'duckdb')
    throw new EngineError('ERR_ENGINE_UNSUPPORTED', `Engine ${job.engine} is not available yet`)
  const parameters = resolveParameters(job.parameters ?? {}, context.parameters ?? {})
  const scratch = await mkdtemp(join(context.scratchDir, 'job-'))
  let referenced: Promise<ReferencedColumns> | undefined
  const local = createLocalStore()
  let files = 0
  let keys = 0
  const ctx: EngineContext = {
    ...context,
    resolve:
      context.resolveStore ??
      ((uri) => ({ store: local, location: localPath(uri, context.baseDir) })),
    scratchPath: (hint) => join(scratch, `${++files}-${hint.replace(/[^A-Za-z0-9._-]/g, '_')}`),
    parameterName: () => `subrosa_key_${++keys}`,
    referenced: () => {
      referenced ??= referencedColumns(
        Object.values(job.outputs).map((spec) => spec.query ?? job.query ?? ''),
      )
      return referenced
    },
  }
  const opened: OpenedInput[] = []
  try {
    for (const [name, spec] of Object.entries(job.inputs)) {
      const open = OPENERS[spec.format] as OpenInput | undefined
      if (open === undefined)
        throw new EngineError('ERR_ENGINE_UNSUPPORTED', `${spec.format} inputs are not available`)
      opened.push(await open(name, spec, ctx))
    }
    const bound: Record<string, DuckDBValue> = { ...parameters }
    for (const input of opened) Object.assign(bound, input.parameters)
    const relations = opened.map((input) => ({
      name: input.summary.name,
      relation: input.relation,
    }))
    const session = await openDuckDb({
      scratchDir: scratch,
      readablePaths: opened.flatMap((input) => input.readablePaths),
      limits: job.limits ?? {},
      encryptedScans: opened.some((input) => Object.keys(input.parameters).length > 0),
    })
    const outputs: OutputSummary[] = []
    try {
      for (const [name, spec] of Object.entries(job.outputs)) {
        const write = WRITERS[spec.format] as WriteOutput | undefined
        if (write === undefined)
          throw new EngineError(
            'ERR_ENGINE_UNSUPPORTED',
            `${spec.format} outputs are not available`,
          )
        ctx.onProgress?.({ phase: 'query', output: name, rows: 0, total: 0 })
        const query = composeQuery(spec.query ?? job.query ?? '', relations)
        const onProgress = (rows: number, total: number) =>
          ctx.onProgress?.({ phase: 'query', output: name, rows, total })
        outputs.push(
          await write(name, spec, { session, query, parameters: bound, onProgress }, ctx),
        )
      }
    } finally {
      session.close()
    }
    return {
      job: job.metadata.name,
      inputs: opened.map((input) => input.summary),
      outputs,
      durationMs: Date.now() - started,
    }
  } finally {
    for (const input of opened) await input.close()
    await rm(scratch, { recursive: true, force: true })
  }
}
