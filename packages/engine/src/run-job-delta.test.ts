// Delta tables end to end through runJob: appends (new table, partitioned, repeated), reads back
// equal to DuckDB on the plaintext, hand-written removes and adds, time travel, conflicts, and
// no plaintext in the table's files.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createInMemoryKms } from '@subrosa/crypto'
import { validateJob } from '@subrosa/policy'
import type { JobContext } from './adapters.ts'
import { checkJob } from './check-job.ts'
import { commitName } from './delta/snapshot.ts'
import { runJob } from './run-job.ts'
import { createLocalStore, type ObjectStore } from './storage/object-store.ts'
import { duck, encryptParquetFile, readParquetFile } from './testing/files.ts'

const kms = createInMemoryKms({
  'subrosa:t/in': new Uint8Array(randomBytes(32)),
  'subrosa:t/lake': new Uint8Array(randomBytes(32)),
  'subrosa:t/out': new Uint8Array(randomBytes(32)),
})

const COLUMNS = `id, kind, region, label, amount, day, ts`
const ORDER = 'id, kind'

describe('runJob with Delta tables', () => {
  let dir: string
  let scratch: string
  const plain = () => join(dir, 'plain.parquet')
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-delta-job-'))
    scratch = join(dir, 'scratch')
    await mkdir(scratch, { mode: 0o700 })
    await duck(
      `COPY (SELECT i AS id, (i % 3)::INTEGER AS kind,
         CASE i % 4 WHEN 0 THEN 'north' WHEN 1 THEN 'a:b c/d' WHEN 2 THEN '' ELSE NULL END AS region,
         'secret-' || i AS label, (i * 1.25)::DECIMAL(12, 2) AS amount,
         DATE '2024-01-01' + (i % 5)::INTEGER AS day,
         TIMESTAMPTZ '2024-03-01 12:00:00+00' + to_seconds(i) AS ts
       FROM range(2000) t(i)) TO '${plain()}' (FORMAT parquet)`,
    )
    await encryptParquetFile(plain(), join(dir, 'src.parquet'), kms, 'subrosa:t/in')
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const ctx = (extra: Partial<JobContext> = {}): JobContext => ({
    kms,
    scratchDir: scratch,
    baseDir: dir,
    kmsInstance: { id: 'test', url: 'memory:' },
    ...extra,
  })
  const append = (table: string, query: string, extra: Record<string, unknown> = {}) =>
    validateJob({
      apiVersion: 'subrosa/v1',
      kind: 'Job',
      metadata: { name: 'append' },
      policy: 't/p/w',
      inputs: { src: { format: 'parquet', uri: 'src.parquet', key: 't/in' } },
      query,
      outputs: { t: { format: 'delta', uri: table, key: 't/lake', ...extra } },
    })
  const readBack = async (table: string, version?: number, key = 't/lake') => {
    const summary = await runJob(
      validateJob({
        apiVersion: 'subrosa/v1',
        kind: 'Job',
        metadata: { name: 'read' },
        policy: 't/p/w',
        inputs: {
          t: { format: 'delta', uri: table, key, ...(version === undefined ? {} : { version }) },
        },
        query: `SELECT ${COLUMNS} FROM t`,
        outputs: { out: { format: 'parquet', uri: `out/${table}.parquet`, key: 't/out' } },
      }),
      ctx(),
    )
    const rows = await readParquetFile(join(dir, 'out', `${table}.parquet`), kms, ORDER)
    return { summary, rows }
  }
  const expected = (where: string, times = 1) =>
    duck(`SELECT ${COLUMNS} FROM '${plain()}', range(${times}) r WHERE ${where} ORDER BY ${ORDER}`)
  /** Every file of a table, relative to it. */
  const files = async (table: string) =>
    (await readdir(join(dir, table), { recursive: true, withFileTypes: true }))
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(join(dir, table).length + 1))
      .sort()
  type Action = Record<
    string,
    { path?: string; stats?: string; partitionValues?: Record<string, string> }
  >
  const log = async (table: string, version: number) =>
    (await readFile(join(dir, table, '_delta_log', commitName(version)), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Action)

  it('creates a table, appends again, and reads back what DuckDB reads from the plaintext', async () => {
    const first = await runJob(append('plain', `SELECT * FROM src WHERE id < 1000`), ctx())
    assert.deepEqual(
      first.outputs.map((o) => [o.format, o.rows, o.files, o.masterKeyId]),
      [['delta', 1000, 1, 'subrosa:t/lake']],
    )
    await runJob(append('plain', `SELECT * FROM src WHERE id >= 1000`), ctx())
    const v0 = await log('plain', 0)
    assert.deepEqual(v0[1], { protocol: { minReaderVersion: 1, minWriterVersion: 2 } })
    const metadata = v0[2]?.metaData as { schemaString: string; partitionColumns: string[] }
    assert.deepEqual(metadata.partitionColumns, [])
    assert.deepEqual(
      (
        JSON.parse(metadata.schemaString) as { fields: { name: string; type: string }[] }
      ).fields.map((f) => [f.name, f.type]),
      [
        ['id', 'long'],
        ['kind', 'integer'],
        ['region', 'string'],
        ['label', 'string'],
        ['amount', 'decimal(12,2)'],
        ['day', 'date'],
        ['ts', 'timestamp'],
      ],
    )
    const adds = [...v0, ...(await log('plain', 1))].filter((a) => a.add !== undefined)
    assert.equal(adds.length, 2)
    for (const { add } of adds) assert.equal(add?.stats, undefined, 'no statistics in the log')
    const { summary, rows } = await readBack('plain')
    assert.deepEqual(
      summary.inputs.map((i) => [i.format, i.files, i.read, i.masterKeyId]),
      [['delta', 2, 'native', 'subrosa:t/lake']],
    )
    assert.deepEqual(rows, await expected('true'))
    assert.equal(rows.length, 2000)
    assert.deepEqual(await readdir(scratch), [], 'the job scratch dir is removed')
    // Time travel: version 0 holds the first append only.
    assert.deepEqual((await readBack('plain', 0)).rows, await expected('id < 1000'))
    await assert.rejects(readBack('plain', 2), { code: 'ERR_ENGINE_INPUT' })
    await assert.rejects(readBack('plain', undefined, 't/out'), {
      code: 'ERR_ENGINE_KEY_MISMATCH',
    })
    // subrosa job validate reads the key of the snapshot's data files without any key.
    const validate = async (key: string, uri = 'plain') =>
      checkJob(
        validateJob({
          apiVersion: 'subrosa/v1',
          kind: 'Job',
          metadata: { name: 'check' },
          policy: 't/p/w',
          inputs: { t: { format: 'delta', uri, key } },
          query: 'SELECT * FROM t',
          outputs: { out: { format: 'parquet', uri: 'out/check.parquet', key: 't/out' } },
        }),
        { baseDir: dir },
      )
    const good = await validate('t/lake')
    assert.deepEqual(good.inputKeys, { t: 't/lake' })
    assert.deepEqual(good.findings, [])
    assert.deepEqual(
      (await validate('t/out')).findings.map((f) => [f.level, f.check]),
      [['error', 'key-mismatch']],
    )
    assert.deepEqual(
      (await validate('t/lake', 'absent')).findings.map((f) => f.check),
      ['input-missing'],
    )
  })

  it('leaves no plaintext in data files or the log', async () => {
    await runJob(append('leak', `SELECT * FROM src`, { partitionBy: ['kind'] }), ctx())
    const all = await files('leak')
    assert.ok(all.some((f) => f.startsWith('kind=1/part-') && f.endsWith('.parquet')))
    for (const file of all) {
      const bytes = await readFile(join(dir, 'leak', file))
      assert.equal(bytes.includes('secret-1234'), false, `${file} holds plaintext`)
      assert.equal(bytes.includes('north'), false, `${file} holds plaintext`)
      if (file.endsWith('.parquet'))
        assert.equal(bytes.subarray(0, 4).toString(), 'PARE', `${file} is PME`)
    }
  })

  it('partitions by several columns, with escaped paths and null partitions, and appends to them', async () => {
    const job = append('parts', `SELECT * FROM src WHERE id % 2 = 0`, {
      partitionBy: ['region', 'day'],
    })
    const summary = await runJob(job, ctx())
    // region: north, 'a:b c/d' never (odd ids), '' and NULL both null; day: 5 dates.
    assert.equal(summary.outputs[0]?.files, 10)
    const adds = (await log('parts', 0)).flatMap((a) => (a.add === undefined ? [] : [a.add]))
    const values = adds.map((a) => JSON.stringify(a.partitionValues)).sort()
    assert.ok(values.includes('{"region":null,"day":"2024-01-01"}'))
    assert.ok(values.includes('{"region":"north","day":"2024-01-03"}'))
    // partitionBy is the table's when omitted.
    await runJob(append('parts', `SELECT * FROM src WHERE id % 2 = 1`), ctx())
    const later = (await log('parts', 1)).flatMap((a) => (a.add === undefined ? [] : [a.add]))
    const escaped = later.find((a) => a.partitionValues?.region === 'a:b c/d')
    assert.match(String(escaped?.path), /^region=a%253Ab%20c%252Fd\/day=2024-01-0\d\/part-/)
    assert.ok((await files('parts')).some((f) => f.startsWith('region=a%3Ab c%2Fd/day=')))
    assert.ok(
      (await files('parts')).some((f) => f.startsWith('region=__HIVE_DEFAULT_PARTITION__/')),
    )
    // The empty string is a null partition value, as the protocol says.
    const { rows } = await readBack('parts')
    assert.deepEqual(rows, await expected(`true`).then((r) => r.map(emptyIsNull)))
  })

  it('decrypts only the data columns a query names, partition columns from the log', async () => {
    await runJob(append('narrow', `SELECT * FROM src`, { partitionBy: ['day'] }), ctx())
    const query = (sql: string, decrypt: 'native' | 'scratch') =>
      runJob(
        validateJob({
          apiVersion: 'subrosa/v1',
          kind: 'Job',
          metadata: { name: 'narrow' },
          policy: 't/p/w',
          inputs: { t: { format: 'delta', uri: 'narrow', key: 't/lake' } },
          query: sql,
          outputs: { out: { format: 'parquet', uri: 'out/narrow.parquet', key: 't/out' } },
        }),
        ctx({ decrypt }),
      )
    const sql =
      'SELECT day, kind, count(*) AS n, sum(amount) AS total FROM t GROUP BY ALL ORDER BY ALL'
    const native = await query(sql, 'native')
    const want = await readParquetFile(join(dir, 'out', 'narrow.parquet'), kms, 'day, kind')
    assert.equal(want.length, 15)
    assert.equal(native.inputs[0]?.read, 'native')
    const scratched = await query(sql, 'scratch')
    assert.equal(scratched.inputs[0]?.read, 'scratch')
    assert.deepEqual(scratched.inputs[0]?.columns, ['kind', 'amount'])
    assert.deepEqual(
      await readParquetFile(join(dir, 'out', 'narrow.parquet'), kms, 'day, kind'),
      want,
    )
    // Only a partition column: one data column is still decrypted, a file needs one.
    const days = await query('SELECT day, count(*) AS n FROM t GROUP BY day', 'scratch')
    assert.deepEqual(days.inputs[0]?.columns, ['id'])
    const counts = await readParquetFile(join(dir, 'out', 'narrow.parquet'), kms, 'day')
    assert.deepEqual(
      counts.map((r) => r.n),
      ['400', '400', '400', '400', '400'],
    )
  })

  it('partitions by timestamp, boolean and decimal columns and reads their values back typed', async () => {
    const query = `SELECT id, label, date_trunc('hour', ts) AS hour, id % 2 = 0 AS even,
      (id % 3 * 0.5)::DECIMAL(4, 1) AS half FROM src WHERE id < 300`
    await runJob(append('typed', query, { partitionBy: ['hour', 'even', 'half'] }), ctx())
    const adds = (await log('typed', 0)).flatMap((a) => (a.add === undefined ? [] : [a.add]))
    assert.ok(
      adds.some(
        (a) =>
          JSON.stringify(a.partitionValues) ===
          '{"hour":"2024-03-01 12:00:00.000000","even":"true","half":"1.0"}',
      ),
    )
    const summary = await runJob(
      validateJob({
        apiVersion: 'subrosa/v1',
        kind: 'Job',
        metadata: { name: 'read' },
        policy: 't/p/w',
        inputs: { t: { format: 'delta', uri: 'typed', key: 't/lake' } },
        query: 'SELECT id, label, hour, even, half FROM t',
        outputs: { out: { format: 'parquet', uri: 'out/typed.parquet', key: 't/out' } },
      }),
      ctx(),
    )
    assert.equal(summary.inputs[0]?.files, adds.length)
    const plainQuery = query.replace('FROM src', `FROM '${plain()}'`)
    assert.deepEqual(
      await readParquetFile(join(dir, 'out', 'typed.parquet'), kms, 'id'),
      await duck(`${plainQuery} ORDER BY id`),
    )
  })

  it('reads hand-written commits: adds with partition values, and a remove', async () => {
    await runJob(
      append('hand', `SELECT * FROM src WHERE id < 500`, { partitionBy: ['kind'] }),
      ctx(),
    )
    // Another writer adds a file in a partition of its own (kind 7), then removes kind=0.
    await duck(
      `COPY (SELECT id, region, label, amount, day, ts FROM '${plain()}' WHERE id BETWEEN 500 AND 599)
       TO '${join(dir, 'extra.parquet')}' (FORMAT parquet)`,
    )
    await mkdir(join(dir, 'hand', 'kind=7'))
    const extra = join(dir, 'hand', 'kind=7', 'part-hand.parquet')
    await encryptParquetFile(join(dir, 'extra.parquet'), extra, kms, 'subrosa:t/lake')
    const size = (await readFile(extra)).length
    const line = (action: object) => `${JSON.stringify(action)}\n`
    await writeFile(
      join(dir, 'hand', '_delta_log', commitName(1)),
      line({ commitInfo: { operation: 'WRITE' } }) +
        line({
          add: {
            path: 'kind=7/part-hand.parquet',
            partitionValues: { kind: '7' },
            size,
            modificationTime: 1,
            dataChange: true,
          },
        }),
    )
    const kind0 = (await log('hand', 0)).find(
      (a) =>
        a.add?.partitionValues !== undefined &&
        (a.add.partitionValues as Record<string, string>).kind === '0',
    )
    await writeFile(
      join(dir, 'hand', '_delta_log', commitName(2)),
      line({ remove: { path: kind0?.add?.path, deletionTimestamp: 2, dataChange: true } }),
    )
    const withKind7 = (rows: Record<string, unknown>[]) =>
      rows.map((r) => (Number(r.id) >= 500 ? { ...r, kind: 7 } : r))
    assert.deepEqual(
      (await readBack('hand')).rows,
      withKind7(await expected('(id < 500 AND kind <> 0) OR id BETWEEN 500 AND 599')),
    )
    assert.deepEqual((await readBack('hand', 1)).rows, withKind7(await expected('id < 600')))
  })

  it('an empty result creates a table with no files, which reads as no rows', async () => {
    const summary = await runJob(
      append('empty', `SELECT * FROM src WHERE id < 0`, { partitionBy: ['kind'] }),
      ctx(),
    )
    assert.deepEqual(
      summary.outputs.map((o) => [o.rows, o.files]),
      [[0, 0]],
    )
    const { summary: read, rows } = await readBack('empty')
    assert.equal(read.inputs[0]?.files, 0)
    assert.deepEqual(rows, [])
  })

  it('refuses appends that do not match the table', async () => {
    await runJob(append('strict', `SELECT id, kind FROM src`, { partitionBy: ['kind'] }), ctx())
    const cases = [
      append('strict', `SELECT id, kind, label FROM src`),
      append('strict', `SELECT id::INTEGER AS id, kind FROM src`),
      append('strict', `SELECT id, kind FROM src`, { partitionBy: ['id'] }),
      append('fresh', `SELECT id, day::TIMESTAMP AS t FROM src`),
      append('fresh', `SELECT id, kind FROM src`, { partitionBy: ['nope'] }),
      append('fresh', `SELECT kind FROM src`, { partitionBy: ['kind'] }),
    ]
    for (const job of cases)
      await assert.rejects(runJob(job, ctx()), { code: 'ERR_ENGINE_DELTA_SCHEMA' })
    assert.deepEqual(await files('strict').then((f) => f.filter((x) => x.includes('_delta_log'))), [
      `_delta_log/${commitName(0)}`,
    ])
  })

  it('a lost commit race is ERR_ENGINE_CONFLICT, overwrites nothing and removes its data files', async () => {
    await runJob(append('race', `SELECT * FROM src WHERE id < 10`), ctx())
    const before = await files('race')
    const local = createLocalStore()
    const other = new TextEncoder().encode('{"commitInfo":{"operation":"OTHER"}}\n')
    // Another writer commits version 1 between this job's snapshot and its commit.
    const racing: ObjectStore = {
      ...local,
      async putIfAbsent(location, bytes) {
        if (location.endsWith(commitName(1))) await local.putIfAbsent(location, other)
        return local.putIfAbsent(location, bytes)
      },
    }
    const resolveStore = (uri: string) => ({ store: racing, location: join(dir, uri) })
    await assert.rejects(runJob(append('race', `SELECT * FROM src`), ctx({ resolveStore })), {
      code: 'ERR_ENGINE_CONFLICT',
    })
    assert.equal(
      await readFile(join(dir, 'race', '_delta_log', commitName(1)), 'utf8'),
      new TextDecoder().decode(other),
    )
    assert.deepEqual(await files('race'), [...before, `_delta_log/${commitName(1)}`].sort())
  })

  it('a create whose answer was lost and is retried is recognised as its own commit', async () => {
    const local = createLocalStore()
    const retrying: ObjectStore = {
      ...local,
      async putIfAbsent(location, bytes) {
        await local.putIfAbsent(location, bytes)
        return local.putIfAbsent(location, bytes) // the retry finds the object: ERR_ENGINE_CONFLICT
      },
    }
    const resolveStore = (uri: string) => ({ store: retrying, location: join(dir, uri) })
    await runJob(append('retry', `SELECT * FROM src WHERE id < 10`), ctx({ resolveStore }))
    assert.deepEqual((await readBack('retry')).rows, await expected('id < 10'))
  })
})

function emptyIsNull(row: Record<string, unknown>): Record<string, unknown> {
  return row.region === '' ? { ...row, region: null } : row
}
