// The BigDL PPML simple-query example end to end, as its README runs it by hand: keys in a real
// broker over loopback HTTPS, people.csv encrypted by `subrosa encrypt`, the policy pinned to the
// job's measurement, `subrosa run` attesting with the sim TEE, and `subrosa decrypt` of the answer,
// which must equal what the generator computed from the plaintext.
import assert from 'node:assert/strict'
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateSimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import { generateOwnerKey } from '@subrosa/protocol'
import { writePeopleCsv } from '../../../examples/bigdl-simple-query/generate-people.ts'
import { EXAMPLE_DIR, preparePolicy } from '../../../examples/bigdl-simple-query/prepare.ts'
import { runCli } from './child.ts'
import { cliEntry } from './entry.ts'

const entry = cliEntry()

describe('the BigDL simple-query example, end to end', () => {
  let dir: string
  let example: string
  let broker: RunningBroker
  let connection: string[]
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-bigdl-'))
    example = join(dir, 'example')
    await mkdir(join(example, 'data'), { recursive: true })
    for (const f of ['job.yaml', 'policy.yaml'])
      await copyFile(join(EXAMPLE_DIR, f), join(example, f))
    const owner = await generateOwnerKey()
    const sim = await generateSimPlatformKey()
    broker = await startBroker({
      dataDir: join(dir, 'broker'),
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
    })
    await writeFile(join(dir, 'owner.jwk'), JSON.stringify(owner.privateJwk), { mode: 0o600 })
    await writeFile(join(dir, 'sim.jwk'), JSON.stringify(sim.privateJwk), { mode: 0o600 })
    connection = ['--broker', broker.url, '--ca', join(dir, 'broker', 'ca.pem')]
    await preparePolicy(example, owner.publicJwk)
  })
  after(async () => {
    await broker?.close()
    await rm(dir, { recursive: true, force: true })
  })

  const cli = async (args: string[], owner = true) => {
    const r = await runCli(
      entry,
      [...args, ...connection, ...(owner ? ['--owner-key', join(dir, 'owner.jwk')] : [])],
      { cwd: dir },
    )
    assert.equal(r.status, 0, `subrosa ${args.join(' ')}: ${r.stderr}`)
    return r
  }

  it('encrypts people.csv, runs the query in the sim TEE and decrypts the answer', async () => {
    const data = join(example, 'data')
    const { answer } = await writePeopleCsv(join(data, 'people.csv'), { seed: 7, rows: 20_000 })
    await cli(['key', 'create', 'ppml/people'])
    await cli(['key', 'create', 'ppml/results'])
    await cli([
      'encrypt',
      join(data, 'people.csv'),
      join(data, 'people.csv.srsa'),
      '--key',
      'ppml/people',
    ])
    await rm(join(data, 'people.csv'))
    await cli(['policy', 'apply', join(data, 'policy.yaml')])
    const validated = await cli(['job', 'validate', join(example, 'job.yaml'), '--json'])
    assert.equal(JSON.parse(validated.stdout).ok, true)
    const run = await cli(
      ['run', join(example, 'job.yaml'), '--sim-key', join(dir, 'sim.jwk'), '--json'],
      false,
    )
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1) as string)
    assert.equal(summary.insecure, true)
    assert.deepEqual(
      summary.outputs.map((o: { name: string; rows: number }) => [o.name, o.rows]),
      [['result', 3]],
    )
    await cli(['decrypt', join(data, 'result.jsonl.srsa'), join(data, 'result.jsonl')])
    const rows = (await readFile(join(data, 'result.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { job: string; count: number; average_age: number })
    assert.deepEqual(
      rows.map((r) => [r.job, r.count]),
      answer.map((a) => [a.job, a.count]),
    )
    for (const [i, r] of rows.entries())
      assert.ok(Math.abs(r.average_age - (answer[i]?.average_age ?? Number.NaN)) < 1e-9, r.job)
  })
})
