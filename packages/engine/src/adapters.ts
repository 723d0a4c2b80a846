// The contract between the job runner and the input and output adapters, one per data format.
import type { DuckDBValue } from '@duckdb/node-api'
import type { KmsClient } from '@subrosa/crypto'
import type { JobInput, JobOutput } from '@subrosa/policy'
import type { ReferencedColumns } from './columns.ts'
import type { DuckDbSession } from './duckdb-session.ts'
import type { ObjectStore } from './storage/object-store.ts'

/** Progress of a running job, for progress bars. Counts only: never data values. */
export type JobProgress =
  | {
      readonly phase: 'input'
      readonly input: string
      readonly bytes: number
      readonly total: number
    }
  | {
      readonly phase: 'query'
      readonly output: string
      /** Rows DuckDB has processed of its estimate (0 of 0 until it knows). */
      readonly rows: number
      readonly total: number
    }
  | {
      readonly phase: 'output'
      readonly output: string
      readonly rows: number
      readonly bytes: number
      readonly total: number
    }

/** What the engine needs from its launcher and host. */
export type JobContext = {
  /** KMS for unwrapping input keys and wrapping output keys (the broker, under the token). */
  readonly kms: KmsClient
  /** Private, memory-backed scratch directory inside the TEE. */
  readonly scratchDir: string
  /** Directory relative URIs resolve against (the job file's directory). */
  readonly baseDir: string
  /** Written into output key material so readers (Spark, pyarrow) find the KMS. */
  readonly kmsInstance: { readonly id: string; readonly url: string }
  /** Storage for URLs (Azure); local paths work without it. */
  readonly resolveStore?: (uri: string) => { store: ObjectStore; location: string }
  /** Values for the job's parameters given at run time (`--param name=value`), by name. */
  readonly parameters?: Readonly<Record<string, string | number | boolean>>
  readonly onProgress?: (progress: JobProgress) => void
  /**
   * Who decrypts uniform AES_GCM_V1 Parquet (ADR 0032): `native` (default), DuckDB, with no
   * plaintext copy; `scratch`, Subrosa, only the columns the queries read, into the scratch dir,
   * where DuckDB reads them as plaintext (its page-skipping optimizers stay on). Other PME files
   * are always decrypted into scratch, also only the columns read.
   */
  readonly decrypt?: DecryptMode
}

/** See {@link JobContext.decrypt}. */
export type DecryptMode = 'native' | 'scratch'

/** Everything an adapter needs: the job context plus storage, scratch and parameter names. */
export type EngineContext = JobContext & {
  /** The store and resolved location for a job URI (local path, `file:` URL, or storage URL). */
  resolve(uri: string): { store: ObjectStore; location: string }
  /** A fresh, unique file path in the TEE's scratch dir (memory-backed). */
  scratchPath(hint: string): string
  /** A fresh named DuckDB parameter (`subrosa_key_<n>`) for a key; use it as `$name::BLOB`. */
  parameterName(): string
  /**
   * The columns the job's queries can read (a superset), for decrypting only those; parsed on
   * first use, so jobs whose inputs DuckDB decrypts never pay for it.
   */
  referenced(): Promise<ReferencedColumns>
}

/** What was read for one input; no data values, only counts and identifiers. */
export type InputSummary = {
  readonly name: string
  readonly format: JobInput['format']
  readonly uri: string
  readonly masterKeyId: string
  /** Encrypted bytes read. */
  readonly bytes: number
  readonly files: number
  /** `native`: DuckDB decrypts; `scratch`: Subrosa decrypted it into the TEE's scratch dir. */
  readonly read: 'native' | 'scratch'
  /** Columns left out: the workload was not granted their keys. */
  readonly droppedColumns: readonly string[]
  /** When Subrosa decrypted only part of the columns: the top-level fields it decrypted. */
  readonly columns?: readonly string[]
}

/** An input made readable by DuckDB. */
export type OpenedInput = {
  /** A SQL relation for FROM. Paths appear only as SQL string literals, keys only as `$name`. */
  readonly relation: string
  /** Named parameters the relation uses (keys as BLOB values), bound by the engine. */
  readonly parameters: Readonly<Record<string, DuckDBValue>>
  /** Local files DuckDB must be allowed to read. */
  readonly readablePaths: readonly string[]
  readonly summary: InputSummary
  /** Wipe keys and remove scratch files; called once, whatever happened. */
  close(): Promise<void>
}

/** Opens one kind of input. */
export type OpenInput<S extends JobInput = JobInput> = (
  name: string,
  spec: S,
  ctx: EngineContext,
) => Promise<OpenedInput>

/** What was written for one output; no data values. */
export type OutputSummary = {
  readonly name: string
  readonly format: JobOutput['format']
  readonly uri: string
  readonly masterKeyId: string
  readonly rows: number
  /** Encrypted bytes written. */
  readonly bytes: number
  readonly files: number
}

/** A query ready to run: a full SELECT (inputs as CTEs) and its named parameter values. */
export type BoundQuery = {
  readonly session: DuckDbSession
  readonly query: string
  readonly parameters: Readonly<Record<string, DuckDBValue>>
  /** Polled while a query runs: rows processed of DuckDB's estimate. */
  readonly onProgress?: (rows: number, total: number) => void
}

/** Writes one kind of output. */
export type WriteOutput<S extends JobOutput = JobOutput> = (
  name: string,
  spec: S,
  run: BoundQuery,
  ctx: EngineContext,
) => Promise<OutputSummary>
