import assert from 'node:assert/strict'
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { toHex } from '@subrosa/core'
import { measureBundlePath } from '@subrosa/launcher'
import { ownerKeyId } from '@subrosa/protocol'
import type { JWK } from 'jose'
import { runCli } from './child.ts'
import { main } from './cli.ts'
import { helpText } from './command.ts'
import { COMMANDS } from './commands/index.ts'
import { taxiDatasetSql } from './demo/dataset.ts'
import { cliEntry } from './entry.ts'
import { capture } from './testing/capture.ts'

const entry = cliEntry()
const VECTORS =
  process.env.SUBROSA_VECTORS ?? join(import.meta.dirname, '../../../../shared/vectors')
const SGX_COLLATERAL = join(VECTORS, 'dcap-qvl/sgx_quote_collateral.json')
const SGX_QUOTE = join(VECTORS, 'dcap-qvl/sgx_quote')
const haveSgx = existsSync(SGX_COLLATERAL) && existsSync(SGX_QUOTE)

const run = (args: string[], cwd: string) => runCli(entry, args, { cwd })

function json(result: { status: number; stdout: string; stderr: string }): Record<string, unknown> {
  assert.equal(result.status, 0, result.stderr)
  return JSON.parse(result.stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>
}

describe('subrosa command line', () => {
  it('prints help for every command and lists them all', async () => {
    const io = capture()
    assert.equal(await main(['--help'], io), 0)
    for (const c of COMMANDS) {
      assert.ok(io.stdout.join('').includes(c.path.join(' ')), c.path.join(' '))
      const one = capture()
      assert.equal(await main([...c.path, '--help'], one), 0)
      assert.equal(one.stdout.join(''), helpText(c))
      assert.match(one.stdout.join(''), new RegExp(`^Usage: subrosa ${c.path.join(' ')}`))
      if (c.json) assert.match(one.stdout.join(''), /--json/)
    }
  })

  it('answers usage errors with ERR_CLI_USAGE and exit code 2', async () => {
    for (const args of [
      ['frobnicate'],
      ['key', 'create', '--nope'],
      ['key', 'create'],
      ['demo', '--rows', 'many'],
    ]) {
      const io = capture()
      assert.equal(await main(args, io), 2, args.join(' '))
      assert.match(io.stderr.join(''), /ERR_CLI_USAGE/)
    }
    const io = capture()
    assert.equal(
      await main(
        [
          'key',
          'create',
          'a/b',
          '--json',
          '--owner-key',
          '/nonexistent.jwk',
          '--broker',
          'https://127.0.0.1:1',
          '--ca',
          '/nonexistent.pem',
        ],
        io,
      ),
      1,
    )
    assert.equal(JSON.parse(io.stdout.join('')).error.code, 'ERR_CLI_FILE')
  })
})

describe('the README walk-through, as processes against `subrosa broker start`', () => {
  let dir: string
  let broker: ChildProcessWithoutNullStreams
  let brokerLog = ''

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-cli-'))
    json(await run(['owner', 'keygen', '--json'], dir))
    json(await run(['sim', 'keygen', '--json'], dir))
    broker = spawn(
      entry.execPath,
      [
        ...entry.execArgv,
        entry.main,
        'broker',
        'start',
        '--port',
        '0',
        '--allow-sim',
        '--sim-trust',
        'sim-platform.pub.jwk',
        '--owner',
        'owner.pub.jwk',
        ...(haveSgx ? ['--collateral', SGX_COLLATERAL] : []),
      ],
      { cwd: dir },
    )
    await new Promise<void>((resolve, reject) => {
      broker.stdout.on('data', (d: Buffer) => {
        brokerLog += d.toString()
        if (brokerLog.includes('"broker-started"')) resolve()
      })
      broker.stderr.on('data', (d: Buffer) => {
        brokerLog += d.toString()
      })
      broker.on('exit', () => reject(new Error(`broker exited: ${brokerLog}`)))
    })
  })

  after(async () => {
    if (broker.exitCode === null) {
      broker.kill('SIGTERM')
      await new Promise((r) => broker.on('exit', r))
    }
    await rm(dir, { recursive: true, force: true })
  })

  it('keeps keys private and the unseal key outside the data dir', async () => {
    for (const f of ['owner.jwk', 'sim-platform.jwk', '.subrosa.unseal.key'])
      assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600, f)
    assert.ok(existsSync(join(dir, '.subrosa', 'ca.pem')))
    assert.match(brokerLog, /INSECURE/)
  })

  it('creates keys, encrypts, applies a policy, runs a job, decrypts and audits', async () => {
    assert.equal(
      json(await run(['key', 'create', 'acme/taxi', '--json'], dir)).id,
      'subrosa:acme/taxi',
    )
    json(await run(['key', 'create', 'acme/results', '--json'], dir))
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    await db.run(
      `COPY (${taxiDatasetSql(1000)}) TO '${join(dir, 'trips.parquet')}' (FORMAT parquet)`,
    )
    db.closeSync()
    instance.closeSync()
    json(
      await run(
        ['encrypt', 'trips.parquet', 'trips.pme.parquet', '--key', 'acme/taxi', '--json'],
        dir,
      ),
    )
    // Any other file is a stream file, its data key wrapped by the broker's master key.
    const csv = 'VendorID,fare\n1,9.5\n2,12.25\n'.repeat(2000)
    await writeFile(join(dir, 'trips.csv'), csv)
    const sealed = json(
      await run(['encrypt', 'trips.csv', 'trips.csv.srsa', '--key', 'acme/taxi', '--json'], dir),
    )
    assert.equal(sealed.format, 'stream')
    assert.equal(sealed.keyId, 'subrosa:acme/taxi')
    const opened = json(await run(['decrypt', 'trips.csv.srsa', 'trips.back.csv', '--json'], dir))
    assert.equal(opened.format, 'stream')
    assert.equal(await readFile(join(dir, 'trips.back.csv'), 'utf8'), csv)
    const inspected = json(await run(['parquet', 'inspect', 'trips.pme.parquet', '--json'], dir))
    assert.equal(inspected.encrypted, true)
    assert.match(JSON.stringify(inspected), /subrosa:acme\/taxi/)

    await writeFile(
      join(dir, 'job.yaml'),
      'apiVersion: subrosa/v1\nkind: Job\nmetadata: { name: walk }\npolicy: acme/analytics/job\n' +
        'inputs: { trips: { format: parquet, uri: trips.pme.parquet, key: acme/taxi } }\n' +
        'query: SELECT VendorID, count(*) AS n FROM trips GROUP BY 1 ORDER BY 1\n' +
        'outputs: { out: { format: parquet, uri: result.parquet, key: acme/results } }\n',
    )
    const measurement = toHex((await measureBundlePath(join(dir, 'job.yaml'))).measurement)
    const owner = JSON.parse(await readFile(join(dir, 'owner.pub.jwk'), 'utf8')) as JWK
    await writeFile(
      join(dir, 'policy.yaml'),
      `apiVersion: subrosa/v1\nkind: Policy\nmetadata: { namespace: acme, name: analytics }\nowners: { threshold: 1, keys: ["${await ownerKeyId(owner)}"] }\n` +
        `workloads:\n  - name: job\n    accept: [{ tee: sim, measurement: "${measurement}" }]\n    keys: ["acme/taxi:unwrap", "acme/results:wrap"]\n`,
    )
    assert.equal(json(await run(['policy', 'apply', 'policy.yaml', '--json'], dir)).version, 1)
    const ran = json(await run(['run', 'job.yaml', '--json'], dir))
    assert.equal(ran.insecure, true)
    assert.equal(ran.measurement, measurement, 'the measurement the broker verified')
    assert.equal((ran.outputs as { rows: number }[])[0]?.rows, 2)
    // Who decrypts: DuckDB by default; Subrosa, only the one column read, when asked.
    assert.equal((ran.inputs as { read: string }[])[0]?.read, 'native')
    const scratch = json(await run(['run', 'job.yaml', '--decrypt', 'scratch', '--json'], dir))
    assert.equal((scratch.inputs as { read: string }[])[0]?.read, 'scratch')
    assert.deepEqual((scratch.inputs as { columns?: string[] }[])[0]?.columns, ['VendorID'])
    assert.deepEqual((scratch.outputs as { rows: number }[])[0]?.rows, 2)
    const bad = await run(['run', 'job.yaml', '--decrypt', 'duckdb'], dir)
    assert.equal(bad.status, 2)
    assert.match(bad.stderr, /--decrypt is native or scratch/)
    json(await run(['decrypt', 'result.parquet', 'result.plain.parquet', '--json'], dir))
    assert.equal((await stat(join(dir, 'result.plain.parquet'))).mode & 0o777, 0o600)
    const audit = json(await run(['audit', '--json'], dir))
    assert.equal(audit.verified, true)
    const text = await run(['audit'], dir)
    assert.match(text.stdout, /attestation .*decision=allow.*insecure=true/)
    assert.match(text.stdout, /Chain verified/)
  })

  it('leaves out a column whose master key the policy does not grant, end to end', async () => {
    json(await run(['key', 'create', 'acme/pii', '--json'], dir))
    json(
      await run(
        [
          'encrypt',
          'trips.parquet',
          'trips-pii.pme.parquet',
          '--key',
          'acme/taxi',
          '--column-key',
          'fare_amount=acme/pii',
          '--json',
        ],
        dir,
      ),
    )
    await writeFile(
      join(dir, 'pii-job.yaml'),
      'apiVersion: subrosa/v1\nkind: Job\nmetadata: { name: pii }\npolicy: acme/pii-analytics/job\n' +
        'inputs: { trips: { format: parquet, uri: trips-pii.pme.parquet, key: acme/taxi } }\n' +
        'query: SELECT count(*) AS n, sum(trip_distance) AS d FROM (SELECT * FROM trips)\n' +
        'outputs: { out: { format: parquet, uri: pii-result.parquet, key: acme/results } }\n',
    )
    const measurement = toHex((await measureBundlePath(join(dir, 'pii-job.yaml'))).measurement)
    const owner = JSON.parse(await readFile(join(dir, 'owner.pub.jwk'), 'utf8')) as JWK
    await writeFile(
      join(dir, 'pii-policy.yaml'),
      `apiVersion: subrosa/v1\nkind: Policy\nmetadata: { namespace: acme, name: pii-analytics }\nowners: { threshold: 1, keys: ["${await ownerKeyId(owner)}"] }\n` +
        `workloads:\n  - name: job\n    accept: [{ tee: sim, measurement: "${measurement}" }]\n    keys: ["acme/taxi:unwrap", "acme/results:wrap"]\n`,
    )
    json(await run(['policy', 'apply', 'pii-policy.yaml', '--json'], dir))
    const ran = json(await run(['run', 'pii-job.yaml', '--json'], dir))
    const [input] = ran.inputs as { read: string; droppedColumns: string[] }[]
    assert.equal(input?.read, 'scratch')
    assert.deepEqual(input?.droppedColumns, ['fare_amount'])
    // The owner holds every key and reads the column; the job's query never could.
    json(await run(['decrypt', 'trips-pii.pme.parquet', 'trips-pii.plain.parquet', '--json'], dir))
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    const fares = await db.runAndReadAll(
      `SELECT count(fare_amount) AS n FROM read_parquet('${join(dir, 'trips-pii.plain.parquet')}')`,
    )
    db.closeSync()
    instance.closeSync()
    assert.deepEqual(fares.getRowObjectsJson(), [{ n: '1000' }])
    const audit = await run(['audit'], dir)
    assert.match(audit.stdout, /key\.deny .*decision=deny.*code=ERR_KMS_NOT_GRANTED/)
  })

  it('dry-runs a real SGX quote with the collateral the broker was started with', async (t) => {
    if (!haveSgx) return t.skip(`vectors absent under ${VECTORS}: set SUBROSA_VECTORS`)
    const owner = JSON.parse(await readFile(join(dir, 'owner.pub.jwk'), 'utf8')) as JWK
    const mrenclave = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb'
    await writeFile(
      join(dir, 'enclave.yaml'),
      `apiVersion: subrosa/v1\nkind: Policy\nmetadata: { namespace: enclaves, name: svc }\nowners: { threshold: 1, keys: ["${await ownerKeyId(owner)}"] }\n` +
        `workloads:\n  - name: job\n    accept: [{ tee: sgx, mrenclave: ["${mrenclave}"], tcb: [UpToDate] }]\n`,
    )
    const args = ['policy', 'dry-run', '--evidence', SGX_QUOTE, '--workload', 'job']
    const draft = await run(
      [...args, '--policy', 'enclave.yaml', '--at', '2025-07-01T00:00:00Z'],
      dir,
    )
    assert.equal(draft.status, 1, draft.stderr)
    assert.match(draft.stdout, /^VERIFIED sgx: TCB ConfigurationAndSWHardeningNeeded/)
    assert.match(draft.stdout, /DENIED by workloads\[0\]\.accept/)
    assert.match(draft.stdout, /accept\[0\]: tcb: /)
    assert.match(draft.stdout, /draft, at 2025-07-01T00:00:00.000Z; dry run: nothing released/)
    const expired = await run([...args, '--policy', 'enclave.yaml', '--json'], dir)
    const report = JSON.parse(expired.stdout) as { verified: boolean; error: { code: string } }
    assert.equal(report.verified, false, 'the collateral has expired by the real clock')
    assert.match(report.error.code, /^ERR_ATTEST_/)
    const other = join(VECTORS, 'dcap-qvl/tdx_quote_collateral.json')
    if (existsSync(other)) {
      const sent = [
        '--policy',
        'enclave.yaml',
        '--collateral',
        other,
        '--at',
        '2025-07-01T00:00:00Z',
      ]
      const wrong = await run([...args, ...sent, '--json'], dir)
      const r = JSON.parse(wrong.stdout) as { error: { code: string } }
      assert.equal(
        r.error.code,
        'ERR_ATTEST_COLLATERAL',
        'the collateral sent is used, not the broker’s',
      )
    }
    const usage = await run([...args], dir)
    assert.equal(usage.status, 2)
  })
})
