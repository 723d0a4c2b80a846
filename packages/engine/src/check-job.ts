import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { inspectParquet, readStreamHeader } from '@subrosa/crypto'
import type { Job, JobFinding, JobInput } from '@subrosa/policy'
import { parseMasterKeyId } from '@subrosa/protocol'
import { openFileSource } from '@subrosa/sdk'
import { decodePath } from './delta/actions.ts'
import { readSnapshot } from './delta/snapshot.ts'
import { createLocalStore, localPath, type ObjectStore } from './storage/object-store.ts'

/** What {@link checkJob} found, and the master key each readable input is encrypted under. */
export type JobCheck = {
  readonly findings: JobFinding[]
  /** `<namespace>/<key>` per input whose file names its key (read without any key). */
  readonly inputKeys: Record<string, string>
}

const FILE_FUNCTIONS = /^(read_|parquet_|glob$|sniff_csv$|iceberg_|delta_scan$)/

/**
 * Check a job without keys or a broker: each query parses as one SELECT that reads only the job's
 * inputs (by name; no file functions), each local input exists and names the master key the job
 * declares (read from the Parquet footer's key material or the stream header, no key needed).
 *
 * @example const { findings } = await checkJob(job, { baseDir: dirname(jobPath) })
 */
export async function checkJob(
  job: Job,
  options: {
    readonly baseDir: string
    readonly resolveStore?: (uri: string) => { store: ObjectStore; location: string }
  },
): Promise<JobCheck> {
  const findings: JobFinding[] = []
  const inputKeys: Record<string, string> = {}
  const local = createLocalStore()
  const resolve =
    options.resolveStore ??
    ((uri: string) => ({ store: local, location: localPath(uri, options.baseDir) }))
  for (const [name, input] of Object.entries(job.inputs)) {
    const path = `inputs.${name}.uri`
    try {
      const { store, location } = resolve(input.uri)
      const found = await inputKey(input, store, location)
      if (found === 'missing') {
        findings.push({
          level: 'error',
          check: 'input-missing',
          path,
          message: `Input ${name} does not exist`,
        })
        continue
      }
      if (found === undefined) continue
      inputKeys[name] = found
      if (input.key !== undefined && input.key !== found)
        findings.push({
          level: 'error',
          check: 'key-mismatch',
          path: `inputs.${name}.key`,
          message: `Input ${name} is encrypted under ${found}, not ${input.key}`,
        })
    } catch (error) {
      findings.push({
        level: 'error',
        check: 'input-unreadable',
        path,
        message: `Input ${name} cannot be checked: ${(error as Error).message}`,
      })
    }
  }
  const names = Object.keys(job.inputs).map((n) => n.toLowerCase())
  const queries: [string, string][] = []
  if (job.query !== undefined) queries.push(['query', job.query])
  for (const [name, output] of Object.entries(job.outputs))
    if (output.query !== undefined) queries.push([`outputs.${name}.query`, output.query])
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' })
  const db = await instance.connect()
  try {
    for (const [path, query] of queries) {
      const result = await db.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [query])
      const tree = JSON.parse(String(result.getRows()[0]?.[0])) as SerializedSql
      if (tree.error === true) {
        findings.push({
          level: 'error',
          check: tree.error_type === 'parser' ? 'query-syntax' : 'query-not-select',
          path,
          message:
            tree.error_type === 'parser'
              ? `The query does not parse: ${tree.error_message ?? 'syntax error'}`
              : 'The query must be one SELECT statement (no COPY, ATTACH, SET, INSTALL, ...)',
        })
        continue
      }
      if ((tree.statements?.length ?? 0) !== 1)
        findings.push({
          level: 'error',
          check: 'query-multiple',
          path,
          message: 'The query must be one statement',
        })
      const refs = references(tree)
      for (const table of refs.tables)
        if (!names.includes(table.toLowerCase()) && !refs.ctes.has(table.toLowerCase()))
          findings.push({
            level: 'error',
            check: 'table-unknown',
            path,
            message: `The query reads ${table}, which is not an input of the job (inputs: ${Object.keys(job.inputs).join(', ')})`,
          })
      for (const fn of refs.functions)
        if (FILE_FUNCTIONS.test(fn))
          findings.push({
            level: 'error',
            check: 'file-access',
            path,
            message: `The query calls ${fn}(): jobs read only their inputs, by name; DuckDB refuses other files`,
          })
    }
  } finally {
    db.closeSync()
    instance.closeSync()
  }
  return { findings, inputKeys }
}

type SerializedSql = {
  error?: boolean
  error_type?: string
  error_message?: string
  statements?: unknown[]
}

function references(tree: unknown): {
  tables: Set<string>
  ctes: Set<string>
  functions: Set<string>
} {
  const out = { tables: new Set<string>(), ctes: new Set<string>(), functions: new Set<string>() }
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) {
      for (const child of node) walk(child)
      return
    }
    if (node === null || typeof node !== 'object') return
    const o = node as Record<string, unknown>
    if (o.type === 'BASE_TABLE' && typeof o.table_name === 'string') out.tables.add(o.table_name)
    if (o.class === 'FUNCTION' && typeof o.function_name === 'string')
      out.functions.add(o.function_name.toLowerCase())
    const map = (o.cte_map as { map?: { key?: unknown }[] } | undefined)?.map
    for (const entry of map ?? [])
      if (typeof entry.key === 'string') out.ctes.add(entry.key.toLowerCase())
    for (const value of Object.values(o)) walk(value)
  }
  walk(tree)
  return out
}

/** The `<namespace>/<key>` an input names without needing the key; undefined when unknown. */
async function inputKey(
  input: JobInput,
  store: ObjectStore,
  location: string,
): Promise<string | undefined | 'missing'> {
  if (input.format === 'delta') {
    if (store.kind !== 'local')
      return (await store.list(`${location.replace(/\/$/, '')}/_delta_log/`)).length > 0
        ? undefined
        : 'missing'
    if (!existsSync(location)) return 'missing'
    // The key of the snapshot's first data file (run-time checks that all share it). A log with a
    // checkpoint is not replayed here (reading one needs DuckDB): the run checks its key.
    const noCheckpoint = new Error('checkpoint')
    const snapshot = await readSnapshot(store, location, {
      version: input.version,
      readCheckpoint: () => Promise.reject(noCheckpoint),
    }).catch((error: unknown) => {
      if (error === noCheckpoint) return undefined
      throw error
    })
    const first = snapshot?.files[0]
    if (first === undefined) return undefined
    return fileKey(
      'parquet',
      join(location, decodePath(first.path, `version ${snapshot?.version}`)),
    )
  }
  if ((await store.stat(location)) === undefined) return 'missing'
  if (store.kind !== 'local') return undefined
  return fileKey(input.format, location)
}

/** The `<namespace>/<key>` a local Parquet or stream file names, read without any key. */
async function fileKey(format: JobInput['format'], location: string): Promise<string | undefined> {
  const source = await openFileSource(location)
  try {
    let keyId: string | undefined
    if (format === 'parquet') {
      const material = (await inspectParquet(source)).footerKeyMetadata?.pkmt1
      keyId = material !== undefined && 'masterKeyId' in material ? material.masterKeyId : undefined
    } else keyId = (await readStreamHeader(source)).header.keyId
    const parsed = keyId === undefined ? undefined : parseMasterKeyId(keyId)
    return parsed === undefined ? undefined : `${parsed.namespace}/${parsed.key}`
  } finally {
    await source.close()
  }
}
