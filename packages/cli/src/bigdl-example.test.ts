// examples/bigdl-simple-query: the people.csv generator (deterministic, BigDL's columns and
// distributions), the job and policy documents, the job's query over the plaintext (DuckDB), and
// the first step by hand: `subrosa encrypt people.csv` as a stream file and back. An end-to-end
// run through broker and engine calls `writePeopleCsv`, `preparePolicy` and compares with `answer`.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { toHex } from '@subrosa/core'
import { measureBundlePath } from '@subrosa/launcher'
import { parseJob, parsePolicy } from '@subrosa/policy'
import { exportJWK, generateKeyPair } from 'jose'
import {
  generatePeople,
  JOBS,
  PEOPLE_HEADER,
  simpleQueryAnswer,
  writePeopleCsv,
} from '../../../examples/bigdl-simple-query/generate-people.ts'
import { EXAMPLE_DIR, preparePolicy } from '../../../examples/bigdl-simple-query/prepare.ts'
import { runInProcess } from './in-process.ts'

const ROWS = 30_000

describe('the BigDL simple-query example', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-bigdl-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('generates the same people.csv for the same seed, another for another seed', async () => {
    const a = await writePeopleCsv(join(dir, 'a.csv'), { seed: 7, rows: ROWS })
    const b = await writePeopleCsv(join(dir, 'b.csv'), { seed: 7, rows: ROWS })
    const c = await writePeopleCsv(join(dir, 'c.csv'), { seed: 8, rows: ROWS })
    const [fa, fb, fc] = await Promise.all(
      ['a', 'b', 'c'].map((f) => readFile(join(dir, `${f}.csv`))),
    )
    assert.ok(fa?.equals(fb as Buffer), 'same seed, same bytes')
    assert.ok(!fa?.equals(fc as Buffer), 'another seed, other people')
    assert.equal(a.bytes, fa?.length)
    assert.deepEqual(a.answer, b.answer)
    assert.notDeepEqual(a.answer, c.answer)
    // The file's answer is the generator's, computed apart.
    assert.deepEqual(a.answer, simpleQueryAnswer(generatePeople({ seed: 7, rows: ROWS })))
    assert.throws(() => generatePeople({ seed: 1, rows: -1 }).next(), RangeError)
  })

  it("has BigDL's columns and value ranges, each value drawn evenly", async () => {
    const lines = (await readFile(join(dir, 'a.csv'), 'utf8')).split('\n')
    assert.equal(lines.shift(), PEOPLE_HEADER)
    assert.equal(PEOPLE_HEADER, 'name,age,job')
    assert.equal(lines.pop(), '', 'the last line ends with a newline')
    assert.equal(lines.length, ROWS)
    const jobs = new Map<string, number>()
    const ages = new Map<number, number>()
    const lengths = new Set<number>()
    for (const line of lines) {
      const m = /^([a-z]{3,7}),(\d\d),(\w+)$/.exec(line)
      assert.ok(m !== null, line)
      const [, name = '', age = '', job = ''] = m
      assert.ok((JOBS as readonly string[]).includes(job), job)
      assert.ok(Number(age) >= 18 && Number(age) <= 60, age)
      jobs.set(job, (jobs.get(job) ?? 0) + 1)
      ages.set(Number(age), (ages.get(Number(age)) ?? 0) + 1)
      lengths.add(name.length)
    }
    assert.deepEqual([...lengths].sort(), [3, 4, 5, 6, 7])
    assert.equal(ages.size, 43, 'every age from 18 to 60')
    // Uniform draws: 30,000 rows put each job within 5% of a third, each age within 20% of 1/43.
    for (const n of jobs.values()) assert.ok(Math.abs(n / ROWS - 1 / 3) < 0.05, `${n}`)
    for (const n of ages.values()) assert.ok(Math.abs((n * 43) / ROWS - 1) < 0.2, `${n}`)
  })

  it("answers with the job's query, run by DuckDB over the plaintext", async () => {
    const job = parseJob(await readFile(join(EXAMPLE_DIR, 'job.yaml'), 'utf8'))
    const input = job.inputs.people
    assert.equal(input?.format, 'csv')
    assert.equal(input?.key, 'ppml/people')
    const columns = input?.format === 'csv' ? (input.columns ?? {}) : {}
    const types = Object.entries(columns)
      .map(([c, t]) => `'${c}': '${t}'`)
      .join(', ')
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    try {
      const result = await db.runAndReadAll(
        `WITH people AS (SELECT * FROM read_csv('${join(dir, 'a.csv')}', header = true, columns = {${types}})) ${job.query}`,
      )
      const rows = result.getRowObjectsJson().map((r) => ({
        job: r.job,
        count: Number(r.count),
        average_age: Number(r.average_age),
      }))
      const expected = (await writePeopleCsv(join(dir, 'a.csv'), { seed: 7, rows: ROWS })).answer
      assert.equal(rows.length, 3)
      for (const [i, row] of rows.entries()) {
        assert.equal(row.job, expected[i]?.job)
        assert.equal(row.count, expected[i]?.count)
        assert.ok(Math.abs(row.average_age - (expected[i]?.average_age ?? 0)) < 1e-9)
      }
    } finally {
      db.closeSync()
      instance.closeSync()
    }
  })

  it('prepares a policy pinning the job, granting exactly its keys', async () => {
    const work = join(dir, 'example')
    await rm(work, { recursive: true, force: true })
    await mkdir(work)
    for (const f of ['job.yaml', 'policy.yaml']) await copyFile(join(EXAMPLE_DIR, f), join(work, f))
    const { publicKey } = await generateKeyPair('ES256', { extractable: true })
    const policy = parsePolicy(
      await readFile(await preparePolicy(work, await exportJWK(publicKey)), 'utf8'),
    )
    const job = parseJob(await readFile(join(work, 'job.yaml'), 'utf8'))
    assert.equal(`${policy.metadata.namespace}/${policy.metadata.name}/job`, job.policy)
    const workload = policy.workloads[0]
    const { measurement } = await measureBundlePath(join(work, 'job.yaml'))
    assert.deepEqual(workload?.accept, [{ tee: 'sim', measurement: [toHex(measurement)] }])
    assert.deepEqual(workload?.keys, [
      `${job.inputs.people?.key}:unwrap`,
      `${job.outputs.result?.key}:wrap`,
    ])
  })

  it('encrypts people.csv as a stream file and decrypts it back, byte for byte', async () => {
    const key = ['--kms-key', `ppml/people=${randomBytes(32).toString('hex')}`, '--json']
    const enc = await runInProcess(
      ['encrypt', 'a.csv', 'people.csv.srsa', '--key', 'ppml/people', ...key],
      dir,
    )
    assert.equal(enc.status, 0, enc.stderr)
    assert.equal(JSON.parse(enc.stdout).format, 'stream')
    const dec = await runInProcess(['decrypt', 'people.csv.srsa', 'back.csv', ...key], dir)
    assert.equal(dec.status, 0, dec.stderr)
    assert.ok((await readFile(join(dir, 'back.csv'))).equals(await readFile(join(dir, 'a.csv'))))
  })
})
