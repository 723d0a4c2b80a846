import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemClock, systemRandom, toHex } from '@subrosa/core'
import { encryptParquetWithKms } from '@subrosa/crypto'
import { runJob } from '@subrosa/engine'
import { attestWorkload, createScratch, measureBundlePath, simTee } from '@subrosa/launcher'
import { parseJob } from '@subrosa/policy'
import { generateOwnerKey, type OwnerKey } from '@subrosa/protocol'
import {
  applyPolicy,
  BrokerClient,
  createAtomicFileSink,
  createKey,
  createOwnerKms,
  openFileSource,
} from '@subrosa/sdk'
import { runCli } from './child.ts'
import { taxiDatasetSql } from './demo/dataset.ts'
import { cliEntry } from './entry.ts'

const entry = cliEntry()
const cli = (args: string[], cwd: string) => runCli(entry, args, { cwd })

function jobYaml(input: string, inputKey: string): string {
  return `apiVersion: subrosa/v1
kind: Job
metadata: { name: e2e }
policy: e2e/analytics/job
inputs:
  trips: { format: parquet, uri: ${input}, key: ${inputKey} }
query: SELECT payment_type, count(*) AS n FROM trips GROUP BY 1 ORDER BY 1
outputs:
  out: { format: parquet, uri: out.parquet, key: e2e/results }
`
}

function policyYaml(ownerId: string, measurements: string[]): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: e2e, name: analytics, predecessor: null }
owners: { threshold: 1, keys: ["${ownerId}"] }
workloads:
  - name: job
    accept:
${measurements.map((m) => `      - { tee: sim, measurement: "${m}" }`).join('\n')}
    inject:
      env: { SALT_FILE: /run/subrosa/salt, SALT_HEX: "{{secret:salt:hex}}" }
      files: { /run/subrosa/salt: "{{secret:salt}}" }
      args: ["file=/run/subrosa/salt", "{{secret:salt:hex}}"]
    keys: ["e2e/taxi:unwrap", "e2e/results:wrap"]
secrets:
  - { name: salt, generate: { bytes: 24 } }
  - { name: api-token, import: true }
`
}

describe('end to end over loopback HTTPS', () => {
  let dir: string
  let broker: RunningBroker
  let client: BrokerClient
  let owner: OwnerKey
  let sim: SimPlatformKey

  async function encryptTo(path: string, key: string): Promise<void> {
    const plain = join(dir, 'plain.parquet')
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    await db.run(`COPY (${taxiDatasetSql(2000)}) TO '${plain}' (FORMAT parquet)`)
    db.closeSync()
    instance.closeSync()
    const source = await openFileSource(plain)
    const sink = await createAtomicFileSink(path)
    await encryptParquetWithKms(source, sink, {
      masterKeyId: `subrosa:${key}`,
      kms: createOwnerKms(client),
      kmsInstanceId: 'subrosa',
      kmsInstanceUrl: client.url,
    })
    await sink.commit()
    await source.close()
    await rm(plain)
  }

  async function attestAndRun(bundle: string) {
    const job = parseJob(await readFile(join(bundle, 'job.yaml'), 'utf8'))
    const { measurement } = await measureBundlePath(bundle)
    const workloadClient = new BrokerClient({ url: broker.url, caPem: broker.caPem })
    const scratch = await createScratch()
    try {
      const attested = await attestWorkload({
        client: workloadClient,
        workload: 'e2e/analytics/job',
        tee: simTee({ platformKey: sim.privateJwk, measurement, clock: systemClock }),
      })
      return await runJob(job, {
        kms: attested.kms,
        scratchDir: scratch.dir,
        baseDir: bundle,
        kmsInstance: { id: 'subrosa', url: broker.url },
      })
    } finally {
      await scratch.dispose()
      workloadClient.close()
    }
  }

  async function bundleWith(name: string, yaml: string): Promise<string> {
    const bundle = join(dir, name)
    await mkdir(bundle, { recursive: true })
    await writeFile(join(bundle, 'job.yaml'), yaml)
    return bundle
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-e2e-'))
    owner = await generateOwnerKey()
    sim = await generateSimPlatformKey()
    broker = await startBroker({
      dataDir: join(dir, 'broker'),
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
    })
    client = new BrokerClient({ url: broker.url, caPem: broker.caPem }, { owner })
    for (const k of ['taxi', 'results', 'other']) await createKey(client, 'e2e', k)
    await encryptTo(join(dir, 'trips.parquet'), 'e2e/taxi')
    await encryptTo(join(dir, 'other.parquet'), 'e2e/other')
    const good = await bundleWith('good', jobYaml('../trips.parquet', 'e2e/taxi'))
    const notGranted = await bundleWith('not-granted', jobYaml('../other.parquet', 'e2e/other'))
    const mismatch = await bundleWith('mismatch', jobYaml('../other.parquet', 'e2e/taxi'))
    const launchBundle = await bundleWith('launch', 'just a bundle\n')
    const measurements = await Promise.all(
      [good, notGranted, mismatch, launchBundle].map(async (b) =>
        toHex((await measureBundlePath(b)).measurement),
      ),
    )
    await applyPolicy(client, policyYaml(owner.id, measurements))
    await writeFile(join(dir, 'owner.jwk'), JSON.stringify(owner.privateJwk), { mode: 0o600 })
    await writeFile(join(dir, 'sim.jwk'), JSON.stringify(sim.privateJwk), { mode: 0o600 })
  })
  after(async () => {
    client?.close()
    await broker?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('runs an attested job whose output the owner can decrypt', async () => {
    const summary = await attestAndRun(join(dir, 'good'))
    assert.equal(summary.outputs[0]?.rows, 4)
    assert.equal(summary.inputs[0]?.masterKeyId, 'subrosa:e2e/taxi')
    const res = await cli(
      [
        'decrypt',
        join(dir, 'good', 'out.parquet'),
        join(dir, 'out.plain.parquet'),
        '--broker',
        broker.url,
        '--ca',
        join(dir, 'broker', 'ca.pem'),
        '--owner-key',
        join(dir, 'owner.jwk'),
        '--json',
      ],
      dir,
    )
    assert.equal(res.status, 0, res.stderr)
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    const rows = (
      await db.runAndReadAll(`SELECT sum(n)::INTEGER FROM '${join(dir, 'out.plain.parquet')}'`)
    ).getRows()
    db.closeSync()
    instance.closeSync()
    assert.equal(rows[0]?.[0], 2000)
  })

  it('refuses a dataset key the policy does not grant, and a file under another key than the job names', async () => {
    await assert.rejects(attestAndRun(join(dir, 'not-granted')), { code: 'ERR_KMS_NOT_GRANTED' })
    await assert.rejects(attestAndRun(join(dir, 'mismatch')), { code: 'ERR_ENGINE_KEY_MISMATCH' })
  })

  it('denies a tampered bundle before any key is released', async () => {
    const bundle = await bundleWith(
      'tampered',
      `${jobYaml('../trips.parquet', 'e2e/taxi')}# one more line\n`,
    )
    await assert.rejects(
      attestAndRun(bundle),
      (e: { code?: string; details?: { clause?: string } }) =>
        e.code === 'ERR_POLICY_DENIED' && e.details?.clause === 'workloads[0].accept',
    )
  })

  it('refuses unauthenticated admin calls and brokers that the pinned CA did not issue', async () => {
    const anonymous = new BrokerClient({ url: broker.url, caPem: broker.caPem })
    await assert.rejects(
      anonymous.call('POST', '/admin/v0/keys', { kind: 'none' }, { namespace: 'e2e', name: 'x' }),
      { code: 'ERR_BROKER_UNAUTHENTICATED', status: 401 },
    )
    anonymous.close()
    const other = await startBroker({ unsealKey: systemRandom(32) })
    const wrongPin = new BrokerClient({ url: broker.url, caPem: other.caPem })
    await assert.rejects(wrongPin.call('GET', '/healthz', { kind: 'none' }), {
      code: 'ERR_SDK_CONNECT',
    })
    wrongPin.close()
    await other.close()
  })

  it('reports a malformed policy with the path of the error (CLI, --json)', async () => {
    await writeFile(join(dir, 'bad.yaml'), policyYaml(owner.id, ['zz']))
    const res = await cli(
      [
        'policy',
        'apply',
        'bad.yaml',
        '--broker',
        broker.url,
        '--ca',
        join(dir, 'broker', 'ca.pem'),
        '--owner-key',
        'owner.jwk',
        '--json',
      ],
      dir,
    )
    assert.equal(res.status, 1)
    const out = JSON.parse(res.stdout.trim())
    assert.equal(out.error.code, 'ERR_POLICY_INVALID')
    assert.match(out.error.details.path, /^workloads\[0\]\.accept\[0\]\.measurement/)
  })

  it('imports an owner-supplied secret from a file or env, and refuses a generated one', async () => {
    await writeFile(join(dir, 'token.bin'), 'tok-from-file')
    const connection = ['--broker', broker.url, '--ca', join(dir, 'broker', 'ca.pem')]
    const owner = ['--owner-key', 'owner.jwk', '--json']
    const fromFile = await cli(
      [
        'secret',
        'import',
        'e2e/analytics/api-token',
        '--file',
        'token.bin',
        ...connection,
        ...owner,
      ],
      dir,
    )
    assert.equal(fromFile.status, 0, fromFile.stderr)
    assert.deepEqual(JSON.parse(fromFile.stdout.trim()), {
      namespace: 'e2e',
      policy: 'analytics',
      name: 'api-token',
      bytes: 13,
      replaced: false,
    })
    const fromEnv = await runCli(
      entry,
      [
        'secret',
        'import',
        'e2e/analytics/api-token',
        '--from-env',
        'TOKEN',
        ...connection,
        ...owner,
      ],
      { cwd: dir, env: { TOKEN: 'tok-from-env' } },
    )
    assert.equal(fromEnv.status, 0, fromEnv.stderr)
    assert.equal(JSON.parse(fromEnv.stdout.trim()).replaced, true)
    const generated = await cli(
      ['secret', 'import', 'e2e/analytics/salt', '--file', 'token.bin', ...connection, ...owner],
      dir,
    )
    assert.equal(generated.status, 1)
    assert.equal(JSON.parse(generated.stdout.trim()).error.code, 'ERR_BROKER_SECRET_KIND')
    const usage = await cli(['secret', 'import', 'e2e/analytics', '--file', 'token.bin'], dir)
    assert.equal(usage.status, 2, usage.stderr)
    const listed = await cli(['secret', 'list', 'e2e/analytics', ...connection, ...owner], dir)
    assert.equal(listed.status, 0, listed.stderr)
    assert.deepEqual(
      (JSON.parse(listed.stdout.trim()).secrets as { name: string; stored: boolean }[]).map((s) => [
        s.name,
        s.stored,
      ]),
      [
        ['salt', true],
        ['api-token', true],
      ],
    )
    assert.ok(!listed.stdout.includes('tok-from'), 'no secret value listed')
  })

  it('launches a command with the injected env, args and files, then removes them', async () => {
    const script =
      'const fs=require("fs");const f=process.env.SALT_FILE;console.log(JSON.stringify({f,size:fs.statSync(f).size,mode:fs.statSync(f).mode&0o777,hex:process.env.SALT_HEX,same:fs.readFileSync(f).toString("hex")===process.env.SALT_HEX,argv:process.argv.slice(1)}))'
    const res = await cli(
      [
        'launch',
        '--policy',
        'e2e/analytics/job',
        '--bundle',
        'launch',
        '--broker',
        broker.url,
        '--ca',
        join(dir, 'broker', 'ca.pem'),
        '--sim-key',
        'sim.jwk',
        '--',
        process.execPath,
        '-e',
        script,
        'given',
      ],
      dir,
    )
    assert.equal(res.status, 0, res.stderr)
    const seen = JSON.parse(res.stdout.trim()) as {
      f: string
      size: number
      mode: number
      same: boolean
      hex: string
      argv: string[]
    }
    assert.deepEqual(
      seen.argv,
      ['given', `file=${seen.f}`, seen.hex],
      'injected args follow the given ones',
    )
    assert.equal(seen.size, 24)
    assert.equal(seen.mode, 0o600)
    assert.equal(seen.same, true)
    assert.equal(existsSync(seen.f), false, 'injected file removed after exit')
    assert.match(res.stderr, /INSECURE/)
  })
})
