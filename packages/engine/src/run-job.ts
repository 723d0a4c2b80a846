import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { DuckDBBlobValue } from '@duckdb/node-api'
import { wipe } from '@subrosa/core'
import {
  decryptParquetWithKms,
  encryptParquetWithKms,
  inspectParquet,
  type KeyMaterialStore,
  type KmsClient,
  keyMaterialSidecarName,
  parseKeyMaterial,
  parseKeyMaterialSidecar,
  readParquetFooter,
  unwrapFooterKey,
} from '@subrosa/crypto'
import type { Job } from '@subrosa/policy'
import { masterKeyId, parseMasterKeyId } from '@subrosa/protocol'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import { duckDbError, openDuckDb } from './duckdb-session.ts'
import { EngineError } from './errors.ts'
import { type BoundInput, composeQuery, sqlString } from './sql.ts'
import { localPath } from './storage/object-store.ts'

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
    /** `native`: DuckDB decrypts; `scratch`: Subrosa decrypted it into the TEE's scratch dir. */
    readonly read: 'native' | 'scratch'
    /** Columns left out: the workload was not granted their keys. */
    readonly droppedColumns: readonly string[]
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
  const inputs: (JobSummary['inputs'][number] & { key?: Uint8Array; readPath: string })[] = []
  const scratchFiles: string[] = []
  try {
    for (const [name, input] of Object.entries(job.inputs)) {
      ctx.onProgress?.({ phase: 'keys', input: name })
      const path = localPath(input.uri, ctx.baseDir)
      const read = await openInput(name, path, input, ctx)
      if (read.key !== undefined) keys.push(read.key)
      if (read.read === 'scratch') scratchFiles.push(read.readPath)
      inputs.push(read)
    }
    const [outName, out] = output
    const outPath = localPath(out.uri, ctx.baseDir)
    const plain = join(ctx.scratchDir, `output-${outName}.parquet`)
    let parameter = 0
    const bound: BoundInput[] = inputs.map((i) =>
      i.key === undefined
        ? { name: i.name, path: i.readPath }
        : { name: i.name, path: i.readPath, parameter: ++parameter },
    )
    const session = await openDuckDb({
      scratchDir: ctx.scratchDir,
      readablePaths: inputs.map((i) => i.readPath),
      limits: job.limits ?? {},
      encryptedScans: keys.length > 0,
    })
    let rows: number
    try {
      ctx.onProgress?.({ phase: 'query' })
      const sql = `COPY (${composeQuery(out.query ?? job.query ?? '', bound)}) TO ${sqlString(plain)} (FORMAT parquet, COMPRESSION zstd)`
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
        inputs: inputs.map(({ key: _key, readPath: _readPath, ...rest }) => rest),
        outputs: [{ name: outName, path: outPath, masterKeyId: id, rows, bytes }],
        durationMs: Date.now() - started,
      }
    } finally {
      await rm(plain, { force: true })
    }
  } finally {
    for (const k of keys) wipe(k)
    for (const f of scratchFiles) await rm(f, { force: true })
  }
}

/**
 * Make one input readable by DuckDB. A uniform AES_GCM_V1 file with an encrypted footer and no
 * AAD prefix is read by DuckDB itself with its footer key (a bound parameter); any other
 * encrypted file (column keys, CTR, plaintext footer, AAD prefix) is decrypted by Subrosa into
 * the scratch dir (memory-backed, inside the TEE), leaving out the columns whose keys the
 * workload was not granted. External key material is read from the sidecar beside the file.
 */
async function openInput(
  name: string,
  path: string,
  input: { readonly key?: string | undefined; readonly aadPrefix?: string | undefined },
  ctx: JobContext,
): Promise<JobSummary['inputs'][number] & { key?: Uint8Array; readPath: string }> {
  const source = await openFileSource(path).catch((cause: unknown) => {
    throw new EngineError('ERR_ENGINE_INPUT', `Cannot open input ${name} (${path})`, { cause })
  })
  try {
    const sidecar = join(dirname(path), keyMaterialSidecarName(basename(path)))
    const keyMaterial: KeyMaterialStore | undefined = existsSync(sidecar)
      ? parseKeyMaterialSidecar(await readFile(sidecar, 'utf8'))
      : undefined
    const aadPrefix =
      input.aadPrefix === undefined ? undefined : new TextEncoder().encode(input.aadPrefix)
    const options = {
      ...(keyMaterial === undefined ? {} : { keyMaterial }),
      ...(aadPrefix === undefined ? {} : { aadPrefix }),
    }
    const declaredKey = input.key
    const info = await inspectParquet(source)
    // The master key the footer names (in the file, or in its sidecar), checked before any unwrap.
    const material = info.footerKeyMetadata?.pkmt1
    const reference = material !== undefined && 'keyReference' in material ? material : undefined
    const entry = reference === undefined ? undefined : keyMaterial?.get(reference.keyReference)
    const named =
      material !== undefined && 'masterKeyId' in material
        ? material.masterKeyId
        : entry === undefined
          ? undefined
          : masterKeyIdOf(entry)
    const declared = declaredKey === undefined ? undefined : masterKeyId(...splitKey(declaredKey))
    if (declared !== undefined && canonical(named) !== declared) {
      throw new EngineError(
        'ERR_ENGINE_KEY_MISMATCH',
        `Input ${name} is encrypted under ${named ?? 'no known master key'}, not ${declared}`,
      )
    }
    const { dek, masterKeyId: found } = await unwrapFooterKey(source, ctx.kms, options)
    const footer = await readParquetFooter(source, {
      keyRetriever: () => dek,
      ...(aadPrefix === undefined ? {} : { aadPrefix }),
    })
    const uniform =
      info.footer === 'encrypted' &&
      info.algorithm === 'AES_GCM_V1' &&
      info.aadPrefix === 'none' &&
      footer.columnEncryption.every((c) => c.encryption === 'footer-key')
    const base = { name, path, masterKeyId: found, bytes: source.size }
    if (uniform) return { ...base, readPath: path, read: 'native', droppedColumns: [], key: dek }
    wipe(dek)
    const plain = join(ctx.scratchDir, `input-${name}.parquet`)
    const sink = await createAtomicFileSink(plain, 0o600)
    try {
      const stats = await decryptParquetWithKms(source, sink, {
        kms: ctx.kms,
        unreadableColumns: 'drop',
        ...options,
      })
      await sink.commit()
      return { ...base, readPath: plain, read: 'scratch', droppedColumns: stats.droppedColumns }
    } catch (error) {
      await sink.abort()
      throw error
    }
  } finally {
    await source.close()
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

/** `subrosa:<ns>/<name>` for either form of a master key id. */
function canonical(id: string | undefined): string | undefined {
  const parsed = id === undefined ? undefined : parseMasterKeyId(id)
  return parsed === undefined ? id : masterKeyId(parsed.namespace, parsed.key)
}

function masterKeyIdOf(entry: string): string | undefined {
  const material = parseKeyMaterial(new TextEncoder().encode(entry))
  return material.kind === 'material' ? material.masterKeyId : undefined
}

function splitKey(key: string): [string, string] {
  const [ns = '', name = ''] = key.split('/')
  return [ns, name]
}
