import assert from 'node:assert/strict'
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parse } from 'yaml'
import { main } from '../cli.ts'
import { capture } from '../testing/capture.ts'

const FIXTURES = join(import.meta.dirname, '../../fixtures/spark')
const POLICY = join(import.meta.dirname, '../../../policy/fixtures/taxi-analytics.policy.yaml')

describe('subrosa spark render (CLI)', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-spark-'))
    await copyFile(join(FIXTURES, 'taxi-fares.job.yaml'), join(dir, 'job.yaml'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('writes one validated file per object with -o', async () => {
    const io = capture(dir)
    const status = await main(
      ['spark', 'render', 'job.yaml', '-o', 'out', '--raw-pod', '--json'],
      io,
    )
    assert.equal(status, 0, io.stderr.join(''))
    assert.deepEqual((await readdir(join(dir, 'out'))).sort(), ['configmap.yaml', 'pod.yaml'])
    const pod = parse(await readFile(join(dir, 'out/pod.yaml'), 'utf8')) as { kind: string }
    assert.equal(pod.kind, 'Pod')
  })

  it('prints a v1 List with --json, and checks the job against --policy-file', async () => {
    const io = capture(dir)
    const status = await main(
      ['spark', 'render', 'job.yaml', '--policy-file', POLICY, '--executors', '4', '--json'],
      io,
    )
    assert.equal(status, 0, io.stderr.join(''))
    const list = JSON.parse(io.stdout.join('')) as { kind: string; items: { kind: string }[] }
    assert.deepEqual(
      list.items.map((i) => i.kind),
      ['ConfigMap', 'SparkApplication'],
    )
  })

  it('exits 1 with the stable code when the SQL does not translate', async () => {
    const job = (await readFile(join(dir, 'job.yaml'), 'utf8')).replace(
      'round(avg(fare), 2)',
      'list(fare)',
    )
    await writeFile(join(dir, 'bad.yaml'), job)
    const io = capture(dir)
    assert.equal(await main(['spark', 'render', 'bad.yaml', '--json'], io), 1)
    const { error } = JSON.parse(io.stdout.join('') || io.stderr.join('')) as {
      error: { code: string; message: string }
    }
    assert.equal(error.code, 'ERR_SPARK_SQL')
    assert.match(error.message, /list\(\)/)
  })

  it('checks TEE resources offline: a bad quantity fails validation, a bad pair is a usage error', async () => {
    const ok = capture(dir)
    const args = ['spark', 'render', 'job.yaml', '--json', '--node-selector', 'pool=sgx']
    assert.equal(await main([...args, '--resource', 'sgx.intel.com/epc=8Gi'], ok), 0)
    const bad = capture(dir)
    assert.equal(await main([...args, '--resource', 'sgx.intel.com/epc=ten'], bad), 1)
    assert.equal(JSON.parse(bad.stdout.join('')).error.code, 'ERR_SPARK_MANIFEST')
    assert.equal(await main([...args, '--resource', 'epc'], capture(dir)), 2)
  })

  it('refuses a bad --executors as a usage error', async () => {
    const io = capture(dir)
    assert.equal(await main(['spark', 'render', 'job.yaml', '--executors', '0'], io), 2)
  })
})
