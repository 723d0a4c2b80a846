import { createHash } from 'node:crypto'
import { appendFileSync } from 'node:fs'
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBBlobValue, DuckDBInstance } from '@duckdb/node-api'
import { generateSimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom, toHex, wipe } from '@subrosa/core'
import { encryptParquetWithKms, unwrapFooterKey } from '@subrosa/crypto'
import { createScratch, measureBundlePath } from '@subrosa/launcher'
import { generateOwnerKey, masterKeyId, type OwnerKey } from '@subrosa/protocol'
import {
  applyPolicy,
  BrokerClient,
  createAtomicFileSink,
  createKey,
  createOwnerKms,
  openFileSource,
  readAudit,
} from '@subrosa/sdk'
import { lastJson, runCli } from '../child.ts'
import type { CliEntry } from '../entry.ts'
import { DEMO_QUERY, taxiDatasetSql } from './dataset.ts'
import { demoJobYaml, demoPolicyYaml } from './files.ts'

/** Options of {@link runDemo}. */
export type DemoOptions = {
  readonly rows: number
  /** Working directory; a fresh temp dir (removed at the end) when undefined. */
  readonly dir?: string | undefined
  readonly keep: boolean
  readonly entry: CliEntry
  /** One line of human output (the step account). */
  readonly say: (line: string) => void
  readonly progress?: (label: string, done: number, total: number) => void
  /**
   * Called before the embedded broker stops, for inspection (the leak tests use it to learn every
   * key the run created, so they can prove none of them reached disk or logs).
   */
  readonly beforeClose?: (handles: {
    broker: RunningBroker
    owner: OwnerKey
    client: BrokerClient
    paths: DemoPaths
  }) => Promise<void>
}

/** Where the demo keeps its files, under its working directory. */
export type DemoPaths = {
  readonly broker: string
  readonly logs: string
  readonly lake: string
  readonly bundle: string
  readonly tampered: string
  readonly simKey: string
}

/** What the demo did, for `--json` and tests. No secrets. */
export type DemoReport = {
  ok: boolean
  dir: string
  rows: number
  broker: string
  measurement: string
  tamperedMeasurement: string
  result: { columns: string[]; rows: unknown[][] }
  expected: { columns: string[]; rows: unknown[][] }
  resultMatchesPlaintext: boolean
  job: Record<string, unknown>
  tampered: {
    denied: boolean
    code: string
    clause: string
    outputUnchanged: boolean
    keysReleased: number
  }
  audit: { entries: number; verified: boolean; head: string; kinds: Record<string, number> }
}

/**
 * The main job on one machine: broker, owner, keys, synthetic data encrypted, policy pinning the
 * job's measurement, the job run by the launcher in a child process on the sim TEE, the result
 * decrypted by the custodian; then the same job with one byte of its bundle changed, denied.
 */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const { say } = options
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'subrosa-demo-')))
  const paths: DemoPaths = {
    broker: join(dir, 'broker'),
    logs: join(dir, 'logs'),
    lake: join(dir, 'lake'),
    bundle: join(dir, 'bundle'),
    tampered: join(dir, 'bundle-tampered'),
    simKey: join(dir, 'sim-platform.jwk'),
  }
  for (const d of [
    dir,
    paths.logs,
    join(paths.lake, 'taxi'),
    join(paths.lake, 'results'),
    paths.bundle,
  ])
    await mkdir(d, { recursive: true })
  const log = (file: string) => (line: string) =>
    appendFileSync(join(paths.logs, file), `${line}\n`)
  const brokerLog = log('broker.log')

  say('Subrosa demo: a confidential SQL job, end to end, on this machine.')
  say('TEE: sim. INSECURE: simulated, no hardware protection. For trying Subrosa only.\n')

  const unsealKey = systemRandom(32)
  const owner = await generateOwnerKey()
  const sim = await generateSimPlatformKey()
  await writeFile(paths.simKey, JSON.stringify(sim.privateJwk), { mode: 0o600 })
  const broker = await startBroker({
    dataDir: paths.broker,
    unsealKey,
    allowSim: true,
    simTrustedKeys: [sim.publicJwk],
    owners: [owner.publicJwk],
    log: (e) => brokerLog(JSON.stringify(e)),
  })
  wipe(unsealKey)
  const client = new BrokerClient({ url: broker.url, caPem: broker.caPem }, { owner })
  try {
    say(` 1. Broker    ${broker.url} (embedded; PGlite state in ${paths.broker}; CA pinned)`)
    say(` 2. Owner     ${owner.id}`)
    for (const k of ['taxi', 'taxi-results']) await createKey(client, 'demo', k)
    say(
      ` 3. Keys      ${masterKeyId('demo', 'taxi')}, ${masterKeyId('demo', 'taxi-results')} (sealed under the broker root key)`,
    )

    const tripsPath = join(paths.lake, 'taxi', 'trips.parquet')
    const expected = await prepareData(options, tripsPath, client)
    say(
      ` 4. Data      ${options.rows.toLocaleString('en-US')} synthetic NYC-taxi trips, encrypted by the custodian: ${tripsPath} (PME AES_GCM_V1)`,
    )

    await writeFile(join(paths.bundle, 'job.yaml'), demoJobYaml())
    const measurement = toHex((await measureBundlePath(paths.bundle)).measurement)
    const applied = await applyPolicy(client, demoPolicyYaml(owner.id, measurement))
    say(
      ` 5. Policy    ${applied.namespace}/${applied.name} v${applied.version}: workload taxi-job accepts sim measurement ${measurement.slice(0, 16)}…`,
    )

    const auditBefore = (await readAudit(client)).entries.length
    const job = await runChild(options.entry, paths, paths.bundle, log('job.log'))
    if (job.code !== 0)
      throw new Error(
        `the attested job failed: ${JSON.stringify(job.json?.error ?? job.stderr.slice(-500))}`,
      )
    const jr = (job.json ?? {}) as Record<string, unknown>
    const token = jr.token as Record<string, string>
    say(` 6. Job       ran in a child process through the launcher, attested as ${jr.workload}`)
    say(
      `              measurement ${String(jr.measurement).slice(0, 16)}…  token ${token.id} (EAR, ${token.status}: sim) valid until ${token.expiresAt}`,
    )
    const releases = (await readAudit(client, auditBefore)).entries.filter(
      (e) => e.kind === 'key.release' || e.kind === 'key.wrap' || e.kind === 'secret.release',
    )
    say(
      `              released: ${releases.map((e) => `${e.kind} ${String(e.data.key ?? e.data.secret)}`).join(', ')}`,
    )
    const out = (jr.outputs as { path: string; rows: number }[])[0]
    say(
      `              wrote ${out?.path} (${out?.rows} rows, PME under ${masterKeyId('demo', 'taxi-results')})`,
    )

    const resultPath = join(paths.lake, 'results', 'fares-by-payment.parquet')
    const result = await decryptResult(resultPath, client)
    say('\n 7. Result, decrypted by the custodian (key unwrapped by the broker for the owner):\n')
    say(renderResult(result))
    const matches = JSON.stringify(result) === JSON.stringify(expected)
    say(
      `\n              ${matches ? 'matches' : 'DOES NOT MATCH'} the custodian's own computation on the plaintext`,
    )

    await cp(paths.bundle, paths.tampered, { recursive: true })
    const jobFile = join(paths.tampered, 'job.yaml')
    const bytes = await readFile(jobFile)
    bytes[10] = (bytes[10] as number) ^ 0x20 // one byte, inside the comment: the job still parses and runs
    await writeFile(jobFile, bytes)
    const tamperedMeasurement = toHex((await measureBundlePath(paths.tampered)).measurement)
    const before = await sha256(resultPath)
    const auditMark = (await readAudit(client)).entries.at(-1)?.seq ?? 0
    const denied = await runChild(options.entry, paths, paths.tampered, log('tampered-job.log'))
    const after = await readAudit(client, auditMark)
    const err = (denied.json?.error ?? {}) as { code?: string; details?: { clause?: string } }
    const keysReleased = after.entries.filter(
      (e) => e.kind === 'key.release' || e.kind === 'secret.release' || e.kind === 'key.wrap',
    ).length
    const tampered = {
      denied: denied.code !== 0 && err.code === 'ERR_POLICY_DENIED',
      code: err.code ?? 'none',
      clause: err.details?.clause ?? '',
      outputUnchanged: (await sha256(resultPath)) === before,
      keysReleased,
    }
    say(
      `\n 8. Tampered  the same job with one byte of its bundle changed (measurement ${tamperedMeasurement.slice(0, 16)}…)`,
    )
    say(
      `              ${tampered.denied ? 'DENIED' : 'NOT DENIED'}: ${tampered.code} at demo/taxi-analytics ${tampered.clause}; keys released to it: ${keysReleased}`,
    )

    const audit = await readAudit(client)
    const kinds: Record<string, number> = {}
    for (const e of audit.entries) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1
    say(
      `\n 9. Audit     ${audit.entries.length} entries, hash chain ${audit.verified ? 'verified' : 'BROKEN'} (head ${audit.head.slice(0, 16)}…)`,
    )
    say(
      `              ${Object.entries(kinds)
        .map(([k, n]) => `${k} ×${n}`)
        .join(', ')}`,
    )

    const ok =
      matches && tampered.denied && tampered.outputUnchanged && keysReleased === 0 && audit.verified
    say(
      ok
        ? '\nDemo succeeded: the attested job got its keys; the tampered one got none.'
        : '\nDemo FAILED: see above.',
    )
    return {
      ok,
      dir,
      rows: options.rows,
      broker: broker.url,
      measurement,
      tamperedMeasurement,
      result,
      expected,
      resultMatchesPlaintext: matches,
      job: jr,
      tampered,
      audit: { entries: audit.entries.length, verified: audit.verified, head: audit.head, kinds },
    }
  } finally {
    await options.beforeClose?.({ broker, owner, client, paths })
    client.close()
    await broker.close()
    if (options.dir === undefined && !options.keep) await rm(dir, { recursive: true, force: true })
  }
}

/** Generate the dataset in a private scratch dir, compute the expected answer, encrypt, delete. */
async function prepareData(
  options: DemoOptions,
  tripsPath: string,
  client: BrokerClient,
): Promise<DemoReport['expected']> {
  const scratch = await createScratch()
  const instance = await DuckDBInstance.create(':memory:')
  const db = await instance.connect()
  try {
    const plain = join(scratch.dir, 'trips.parquet')
    await db.run(
      `COPY (${taxiDatasetSql(options.rows)}) TO '${plain}' (FORMAT parquet, COMPRESSION zstd)`,
    )
    const expected = await db.runAndReadAll(
      `WITH trips AS (SELECT * FROM read_parquet('${plain}')) ${DEMO_QUERY}`,
    )
    const source = await openFileSource(plain)
    const sink = await createAtomicFileSink(tripsPath)
    try {
      await encryptParquetWithKms(source, sink, {
        masterKeyId: masterKeyId('demo', 'taxi'),
        kms: createOwnerKms(client),
        kmsInstanceId: 'subrosa',
        kmsInstanceUrl: client.url,
        onProgress: (done, total) => options.progress?.('encrypt', done, total),
      })
      await sink.commit()
    } finally {
      await source.close()
    }
    return { columns: expected.columnNames(), rows: expected.getRowsJson() as unknown[][] }
  } finally {
    db.closeSync()
    instance.closeSync()
    await scratch.dispose()
  }
}

async function decryptResult(path: string, client: BrokerClient): Promise<DemoReport['result']> {
  const source = await openFileSource(path)
  const { dek } = await unwrapFooterKey(source, createOwnerKms(client)).finally(() =>
    source.close(),
  )
  const instance = await DuckDBInstance.create(':memory:')
  const db = await instance.connect()
  try {
    const r = await db.runAndReadAll(
      `SELECT * FROM read_parquet('${path.replaceAll("'", "''")}', encryption_config = {footer_key_value: $1::BLOB})`,
      [new DuckDBBlobValue(dek)],
    )
    return { columns: r.columnNames(), rows: r.getRowsJson() as unknown[][] }
  } finally {
    wipe(dek)
    db.closeSync()
    instance.closeSync()
  }
}

function renderResult(result: DemoReport['result']): string {
  const decimals = result.columns.map((_, i) =>
    result.rows.some((r) => typeof r[i] === 'number' && !Number.isInteger(r[i])),
  )
  const cells = result.rows.map((r) => r.map((v, i) => fmt(v, decimals[i] === true)))
  const widths = result.columns.map((c, i) =>
    Math.max(c.length, ...cells.map((r) => (r[i] ?? '').length)),
  )
  const line = (row: string[]) =>
    `    ${row.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`
  return [line(result.columns), line(widths.map((w) => '─'.repeat(w))), ...cells.map(line)].join(
    '\n',
  )
}

function fmt(v: unknown, decimals: boolean): string {
  if (typeof v === 'number')
    return v.toLocaleString(
      'en-US',
      decimals ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : {},
    )
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(v).toLocaleString('en-US')
  return String(v)
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex')
}

type ChildResult = {
  code: number
  json: ({ error?: unknown } & Record<string, unknown>) | undefined
  stderr: string
}

async function runChild(
  entry: CliEntry,
  paths: { broker: string; simKey: string },
  bundle: string,
  log: (line: string) => void,
): Promise<ChildResult> {
  const args = [
    'run',
    join(bundle, 'job.yaml'),
    '--bundle',
    bundle,
    '--data-dir',
    paths.broker,
    '--sim-key',
    paths.simKey,
    '--json',
  ]
  const { status, stdout, stderr } = await runCli(entry, args, {
    env: { SUBROSA_SIM_KEY: paths.simKey },
  })
  log(`exit ${status}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`)
  return { code: status, json: lastJson(stdout), stderr }
}
