import { rm } from 'node:fs/promises'
import { isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DuckDBBlobValue } from '@duckdb/node-api'
import { wipe } from '@subrosa/core'
import {
  encryptParquetWithKms,
  inspectParquet,
  type KmsClient,
  unwrapFooterKey,
} from '@subrosa/crypto'
import type { Job } from '@subrosa/policy'
import { masterKeyId } from '@subrosa/protocol'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import { duckDbError, openDuckDb } from './duckdb-session.ts'
import { EngineError } from './errors.ts'
import { type BoundInput, composeQuery, sqlString } from './sql.ts'

/** Progress of a running job, for progress bars. */
export type JobProgress =
  | { readonly phase: 'keys'; readonly input: string }
  | { readonly phase: 'query' }
  | {
      readonly phase: 'encrypt'
      readonly output: string
      readonly done: number
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
  readonly onProgress?: (progress: JobProgress) => void
}

/** The outcome of a job; no data values, only counts and identifiers. */
export type JobSummary = {
  readonly inputs: readonly {
    readonly name: string
    readonly path: string
    readonly masterKeyId: string
    readonly bytes: number
  }[]
  readonly outputs: readonly {
    readonly name: string
    readonly path: string
    readonly masterKeyId: string
    readonly rows: number
    readonly bytes: number
  }[]
  readonly durationMs: number
}

/**
 * Run a job: unwrap each input's footer key through the KMS, query the encrypted inputs in a
 * hardened DuckDB with keys as bound BLOB parameters, write the result as plaintext Parquet in
 * the scratch dir only, transcode it to PME under a fresh DEK wrapped by the output's master key,
 * and delete the plaintext.
 *
 * @throws EngineError; CryptoError for unreadable or tampered inputs; BrokerCallError from the KMS.
 */
export async function runJob(job: Job, ctx: JobContext): Promise<JobSummary> {
  const started = Date.now()
  if (job.engine !== 'duckdb')
    throw new EngineError('ERR_ENGINE_UNSUPPORTED', `Engine ${job.engine} is not available yet`)
  const outputs = Object.entries(job.outputs)
  const [output] = outputs
  if (output === undefined || outputs.length !== 1)
    throw new EngineError('ERR_ENGINE_UNSUPPORTED', 'Jobs have exactly one output for now')
  const keys: Uint8Array[] = []
  const inputs: { name: string; path: string; masterKeyId: string; bytes: number }[] = []
  try {
    for (const [name, input] of Object.entries(job.inputs)) {
      ctx.onProgress?.({ phase: 'keys', input: name })
      const path = localPath(input.uri, ctx.baseDir)
      const source = await openFileSource(path).catch((cause: unknown) => {
        throw new EngineError('ERR_ENGINE_INPUT', `Cannot open input ${name} (${path})`, { cause })
      })
      try {
        const declared = input.key === undefined ? undefined : masterKeyId(...splitKey(input.key))
        const material = (await inspectParquet(source)).footerKeyMetadata?.pkmt1
        const found =
          material !== undefined && 'masterKeyId' in material ? material.masterKeyId : undefined
        if (declared !== undefined && found !== declared) {
          throw new EngineError(
            'ERR_ENGINE_KEY_MISMATCH',
            `Input ${name} is encrypted under ${found ?? 'no known master key'}, not ${declared}`,
          )
        }
        const { dek, masterKeyId: id } = await unwrapFooterKey(source, ctx.kms)
        keys.push(dek)
        inputs.push({ name, path, masterKeyId: id, bytes: source.size })
      } finally {
        await source.close()
      }
    }
    const [outName, out] = output
    const outPath = localPath(out.uri, ctx.baseDir)
    const plain = join(ctx.scratchDir, `output-${outName}.parquet`)
    const bound: BoundInput[] = inputs.map((i, n) => ({
      name: i.name,
      path: i.path,
      parameter: n + 1,
    }))
    const session = await openDuckDb({
      scratchDir: ctx.scratchDir,
      readablePaths: inputs.map((i) => i.path),
      limits: job.limits ?? {},
    })
    let rows: number
    try {
      ctx.onProgress?.({ phase: 'query' })
      const sql = `COPY (${composeQuery(job.query, bound)}) TO ${sqlString(plain)} (FORMAT parquet, COMPRESSION zstd)`
      const result = await session.connection.runAndReadAll(
        sql,
        keys.map((k) => new DuckDBBlobValue(k)),
      )
      rows = Number(result.getRows()[0]?.[0] ?? 0)
    } catch (error) {
      throw error instanceof EngineError ? error : duckDbError(error)
    } finally {
      session.close()
    }
    try {
      const id = masterKeyId(...splitKey(out.key))
      const bytes = await encryptFile(plain, outPath, id, outName, ctx)
      return {
        inputs,
        outputs: [{ name: outName, path: outPath, masterKeyId: id, rows, bytes }],
        durationMs: Date.now() - started,
      }
    } finally {
      await rm(plain, { force: true })
    }
  } finally {
    for (const k of keys) wipe(k)
  }
}

async function encryptFile(
  plain: string,
  outPath: string,
  id: string,
  name: string,
  ctx: JobContext,
): Promise<number> {
  const source = await openFileSource(plain)
  const sink = await createAtomicFileSink(outPath).catch((cause: unknown) => {
    throw new EngineError('ERR_ENGINE_OUTPUT', `Cannot write output ${name} (${outPath})`, {
      cause,
    })
  })
  try {
    await encryptParquetWithKms(source, sink, {
      masterKeyId: id,
      kms: ctx.kms,
      kmsInstanceId: ctx.kmsInstance.id,
      kmsInstanceUrl: ctx.kmsInstance.url,
      onProgress: (done, total) =>
        ctx.onProgress?.({ phase: 'encrypt', output: name, done, total }),
    })
    await sink.commit()
    return sink.written
  } catch (error) {
    await sink.abort()
    throw error
  } finally {
    await source.close()
  }
}

function splitKey(key: string): [string, string] {
  const [ns = '', name = ''] = key.split('/')
  return [ns, name]
}

/** Resolve a job URI (`file:` URL or path, relative to the job's directory) to a local path. */
export function localPath(uri: string, baseDir: string): string {
  if (uri.startsWith('file:')) return fileURLToPath(uri)
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri))
    throw new EngineError(
      'ERR_ENGINE_UNSUPPORTED',
      `Only local files are supported for now, not ${uri.split(':')[0]}://`,
    )
  return isAbsolute(uri) ? uri : resolve(baseDir, uri)
}
