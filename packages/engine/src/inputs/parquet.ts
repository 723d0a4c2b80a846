import { rm } from 'node:fs/promises'
import { DuckDBBlobValue } from '@duckdb/node-api'
import { wipe } from '@subrosa/core'
import {
  decryptParquet,
  decryptParquetWithKms,
  inspectParquet,
  type KeyMaterialStore,
  keyMaterialSidecarName,
  parseKeyMaterial,
  parseKeyMaterialSidecar,
  readParquetFooter,
  unwrapFooterKey,
} from '@subrosa/crypto'
import type { JobInput } from '@subrosa/policy'
import { masterKeyId, parseMasterKeyId } from '@subrosa/protocol'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import type { EngineContext, OpenedInput, OpenInput } from '../adapters.ts'
import { fieldsToRead, keepOrFirst } from '../columns.ts'
import { EngineError } from '../errors.ts'
import { sqlString } from '../sql.ts'
import { joinLocation, type ObjectStore } from '../storage/object-store.ts'
import { fetchInput } from './fetch.ts'

/** One PME-encrypted Parquet file, made readable by DuckDB. */
export type OpenedParquetFile = Omit<OpenedInput, 'summary'> & {
  readonly masterKeyId: string
  readonly bytes: number
  readonly read: 'native' | 'scratch'
  readonly droppedColumns: readonly string[]
  /** The top-level fields decrypted, when not all of them (see `InputSummary.columns`). */
  readonly columns?: readonly string[]
}

/** Options of {@link openParquetFile}. */
export type ParquetFileOptions = {
  /** The master key the job names (`<namespace>/<key>`), checked before any unwrap. */
  readonly key?: string | undefined
  /** The AAD prefix a file written with a supplied prefix needs (UTF-8). */
  readonly aadPrefix?: string | undefined
  /** External key material (the `_KEY_MATERIAL_FOR_<file>.json` sidecar), when the file has one. */
  readonly keyMaterial?: KeyMaterialStore | undefined
  /**
   * The top-level fields to decrypt when Subrosa decrypts (a Delta table decides them once for
   * all its files); default: those the job's queries reference.
   */
  readonly fields?: ReadonlySet<string> | undefined
}

/**
 * Make one local PME-encrypted Parquet file readable by DuckDB. A uniform AES_GCM_V1 file with an
 * encrypted footer and no AAD prefix is read by DuckDB itself with its footer key (a bound
 * parameter) unless `ctx.decrypt` is `scratch`; any other (column
 * keys, CTR, plaintext footer, AAD prefix) is decrypted by Subrosa into the scratch dir, leaving
 * out the columns whose keys the workload was not granted. Into scratch go only the top-level
 * fields the job's queries reference (`ctx.referenced()`).
 *
 * @example const file = await openParquetFile('trips', '/lake/trips.parquet', { key: 'acme/taxi' }, ctx)
 * @throws EngineError `ERR_ENGINE_INPUT`, `ERR_ENGINE_KEY_MISMATCH`; CryptoError for tampered or
 * unreadable files; the KMS's errors.
 */
export async function openParquetFile(
  name: string,
  path: string,
  options: ParquetFileOptions,
  ctx: EngineContext,
): Promise<OpenedParquetFile> {
  const source = await openFileSource(path).catch((cause: unknown) => {
    throw new EngineError('ERR_ENGINE_INPUT', `Cannot open input ${name} (${path})`, { cause })
  })
  try {
    const { keyMaterial } = options
    const aadPrefix =
      options.aadPrefix === undefined ? undefined : new TextEncoder().encode(options.aadPrefix)
    const kmsOptions = {
      ...(keyMaterial === undefined ? {} : { keyMaterial }),
      ...(aadPrefix === undefined ? {} : { aadPrefix }),
    }
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
    const declared = options.key === undefined ? undefined : keyIdOf(options.key)
    if (declared !== undefined && canonical(named) !== declared) {
      throw new EngineError(
        'ERR_ENGINE_KEY_MISMATCH',
        `Input ${name} is encrypted under ${named ?? 'no known master key'}, not ${declared}`,
      )
    }
    const { dek, masterKeyId: found } = await unwrapFooterKey(source, ctx.kms, kmsOptions)
    const footer = await readParquetFooter(source, {
      keyRetriever: () => dek,
      ...(aadPrefix === undefined ? {} : { aadPrefix }),
    })
    const uniform =
      info.footer === 'encrypted' &&
      info.algorithm === 'AES_GCM_V1' &&
      info.aadPrefix === 'none' &&
      footer.columnEncryption.every((c) => c.encryption === 'footer-key')
    const base = { masterKeyId: found, bytes: source.size }
    if (uniform && ctx.decrypt !== 'scratch') {
      const parameter = ctx.parameterName()
      return {
        ...base,
        relation: `read_parquet(${sqlString(path)}, hive_partitioning = false, encryption_config = {footer_key_value: $${parameter}::BLOB})`,
        parameters: { [parameter]: new DuckDBBlobValue(dek) },
        readablePaths: [path],
        read: 'native',
        droppedColumns: [],
        close: async () => wipe(dek),
      }
    }
    // Only the fields the queries can read are decrypted (ADR 0032); the rest stay ciphertext.
    const fields = [...new Set(footer.columnEncryption.map((c) => c.path[0] ?? ''))]
    const chosen = options.fields
    const kept =
      chosen === undefined
        ? fieldsToRead(await ctx.referenced(), name, fields)
        : keepOrFirst(fields, (f) => chosen.has(f))
    const columns = kept === undefined ? undefined : (p: readonly string[]) => kept.has(p[0] ?? '')
    const plain = ctx.scratchPath(`${name}.plain.parquet`)
    const sink = await createAtomicFileSink(plain, 0o600)
    try {
      // A uniform file needs no other key than the footer's, already unwrapped.
      const stats = uniform
        ? await decryptParquet(source, sink, {
            keyRetriever: () => dek,
            ...(columns === undefined ? {} : { columns }),
          })
        : await decryptParquetWithKms(source, sink, {
            kms: ctx.kms,
            unreadableColumns: 'drop',
            ...(columns === undefined ? {} : { columns }),
            ...kmsOptions,
          })
      await sink.commit()
      return {
        ...base,
        relation: `read_parquet(${sqlString(plain)}, hive_partitioning = false)`,
        parameters: {},
        readablePaths: [plain],
        read: 'scratch',
        droppedColumns: stats.droppedColumns,
        ...(kept === undefined
          ? {}
          : { columns: fields.filter((f) => kept.has(f) && !stats.droppedColumns.includes(f)) }),
        close: () => rm(plain, { force: true }),
      }
    } catch (error) {
      await sink.abort()
      throw error
    } finally {
      wipe(dek)
    }
  } finally {
    await source.close()
  }
}

/**
 * A Parquet input: fetch it when it is in remote storage (ciphertext, into the scratch dir), read
 * its key material sidecar when there is one, and open it with {@link openParquetFile}.
 */
export const openParquetInput: OpenInput<Extract<JobInput, { format: 'parquet' }>> = async (
  name,
  spec,
  ctx,
) => {
  const { store, location } = ctx.resolve(spec.uri)
  const keyMaterial = await readKeyMaterialSidecar(store, location)
  const fetched = await fetchInput(name, spec.uri, ctx)
  try {
    const file = await openParquetFile(
      name,
      fetched.path,
      { key: spec.key, aadPrefix: spec.aadPrefix, keyMaterial },
      ctx,
    )
    return {
      ...file,
      summary: {
        name,
        format: 'parquet',
        uri: spec.uri,
        masterKeyId: file.masterKeyId,
        bytes: file.bytes,
        files: 1,
        read: file.read,
        droppedColumns: file.droppedColumns,
        ...(file.columns === undefined ? {} : { columns: file.columns }),
      },
      close: async () => {
        await file.close()
        await fetched.close()
      },
    }
  } catch (error) {
    await fetched.close()
    throw error
  }
}

/**
 * The external key material of a Parquet object (its `_KEY_MATERIAL_FOR_<file>.json` sidecar in
 * the same directory), or `undefined` when it has none.
 *
 * @throws CryptoError for a malformed sidecar; the store's errors.
 */
export async function readKeyMaterialSidecar(
  store: ObjectStore,
  location: string,
): Promise<KeyMaterialStore | undefined> {
  const sidecar = joinLocation(location, `../${keyMaterialSidecarName(baseName(location))}`)
  return (await store.stat(sidecar)) === undefined
    ? undefined
    : parseKeyMaterialSidecar(new TextDecoder().decode(await store.readBytes(sidecar)))
}

function baseName(location: string): string {
  return decodeURIComponent(
    location
      .replace(/[?#].*$/, '')
      .split(/[/\\]/)
      .pop() ?? '',
  )
}

/** `subrosa:<ns>/<name>` for a job's `<ns>/<name>` key reference. */
export function keyIdOf(key: string): string {
  const [ns = '', name = ''] = key.split('/')
  return masterKeyId(ns, name)
}

/** `subrosa:<ns>/<name>` for either form of a master key id. */
export function canonical(id: string | undefined): string | undefined {
  const parsed = id === undefined ? undefined : parseMasterKeyId(id)
  return parsed === undefined ? id : masterKeyId(parsed.namespace, parsed.key)
}

function masterKeyIdOf(entry: string): string | undefined {
  const material = parseKeyMaterial(new TextEncoder().encode(entry))
  return material.kind === 'material' ? material.masterKeyId : undefined
}
