// The Python runner against a stand-in for pyspark.sql (no Spark runs here): it must register the
// views, bind parameters by name and encrypt every output column under the output's key.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { parseJob } from '@subrosa/policy'
import { type Manifest, renderSpark } from './render.ts'

const RUNNER = fileURLToPath(new URL('./run_job.py', import.meta.url))
const FIXTURES = new URL('../../fixtures/spark/', import.meta.url)
const STUB = fileURLToPath(new URL('pyspark-stub', FIXTURES))
const python = spawnSync('python3', ['--version']).status === 0

describe('run_job.py (the Spark runner)', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-runner-'))
    const job = parseJob(readFileSync(new URL('taxi-fares.job.yaml', FIXTURES), 'utf8'))
    const [configMap] = renderSpark(job, {
      image: 'subrosa/spark:0.1.0',
      namespace: 'default',
      executors: 1,
      broker: 'https://broker',
      rawPod: false,
    }) as [Manifest]
    await writeFile(
      join(dir, 'plan.json'),
      (configMap.data as Record<string, string>)['plan.json'] ?? '',
    )
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const runner = (columns: string[]) =>
    spawnSync('python3', [RUNNER, join(dir, 'plan.json')], {
      encoding: 'utf8',
      env: {
        ...process.env,
        PYTHONPATH: STUB,
        STUB_CALLS: join(dir, 'calls.json'),
        STUB_COLUMNS: JSON.stringify(columns),
      },
    })

  it('registers views, binds parameters and writes every column encrypted', async (t) => {
    if (!python) return t.skip('python3 is not installed')
    const res = runner(['zone', 'n', 'avg_fare'])
    assert.equal(res.status, 0, res.stderr)
    const calls = JSON.parse(await readFile(join(dir, 'calls.json'), 'utf8'))
    assert.deepEqual(calls, [
      { app: 'taxi-fares' },
      { view: 'trips', from: 'abfss://lake@acmelake.dfs.core.windows.net/trips/' },
      {
        sql: "SELECT `zone`, count(*) AS n, round(avg(fare), 2) AS avg_fare\nFROM trips WHERE fare >= :min_fare AND note <> 'it\\'s'\nGROUP BY `zone`",
        args: { min_fare: 2.5 },
      },
      {
        write: 'abfss://results@acmelake.dfs.core.windows.net/fares/',
        mode: 'errorifexists',
        options: {
          'parquet.encryption.footer.key': 'acme/taxi-results',
          'parquet.encryption.column.keys': 'acme/taxi-results:zone,n,avg_fare',
        },
      },
    ])
  })

  it('refuses a column name the column.keys syntax cannot hold, writing nothing', async (t) => {
    if (!python) return t.skip('python3 is not installed')
    const res = runner(['zone', 'n:count'])
    assert.equal(res.status, 1)
    assert.match(res.stderr, /^ERR_SPARK_PLAN: /)
    const calls = JSON.parse(await readFile(join(dir, 'calls.json'), 'utf8')) as object[]
    assert.equal(
      calls.some((c) => 'write' in c),
      false,
    )
  })
})
