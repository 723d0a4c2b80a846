// The `postgres` output end to end: Always Encrypted columns in a real PostgreSQL, inspected
// with the real psql and pg_dump, read back through the SDK.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, beforeEach, describe, it } from 'node:test'
import { createInMemoryKms } from '@subrosa/crypto'
import { validateJob } from '@subrosa/policy'
import { readEncryptedTable } from '@subrosa/sdk'
import { runJob } from './run-job.ts'
import { duck, encryptParquetFile } from './testing/files.ts'
import {
  connect,
  createTestSchema,
  pgDump,
  postgresUnavailable,
  psql,
  TEST_POSTGRES_URL,
} from './testing/postgres.ts'

const skip = await postgresUnavailable()
if (skip) process.stderr.write(`SKIP postgres output: ${skip}\n`)

const outKey = new Uint8Array(randomBytes(32))
const kms = createInMemoryKms({
  'subrosa:t/trips': new Uint8Array(randomBytes(32)),
  'subrosa:t/out': outKey,
})

const ENCRYPTED = {
  vendor: 'deterministic',
  zone: 'deterministic',
  fare: 'randomized',
  day: 'randomized',
  ts: 'randomized',
  paid: 'randomized',
  amount: 'deterministic',
  note: 'randomized',
} as const

const ROWS = `SELECT i AS id, 'vendor-' || (i % 7) AS vendor, (i % 40)::INTEGER AS zone,
    (i * 1.25)::DOUBLE AS fare, DATE '2024-01-01' + (i % 60)::INTEGER AS day,
    TIMESTAMP '2024-01-01 00:00:00.000001' + INTERVAL (i) MINUTE AS ts, i % 3 = 0 AS paid,
    (i * 0.37)::DECIMAL(10,2) AS amount,
    CASE WHEN i % 11 = 0 THEN NULL ELSE 'note ' || i END AS note
  FROM range(300) t(i)`

describe('runJob with a postgres output (Always Encrypted columns)', { skip }, () => {
  let dir: string
  let scratch: string
  let schema: { name: string; drop(): Promise<void> }
  let table: string
  const plain = () => join(dir, 'trips.plain.parquet')

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-pg-'))
    scratch = join(dir, 'scratch')
    await mkdir(scratch, { mode: 0o700 })
    await duck(`COPY (${ROWS}) TO '${plain()}' (FORMAT parquet)`)
    await encryptParquetFile(plain(), join(dir, 'trips.parquet'), kms, 'subrosa:t/trips')
    schema = await createTestSchema()
  })
  after(async () => {
    await schema?.drop()
    await rm(dir, { recursive: true, force: true })
  })
  let n = 0
  beforeEach(() => {
    table = `${schema.name}.trips_${++n}`
  })

  const ctx = () => ({
    kms,
    scratchDir: scratch,
    baseDir: dir,
    kmsInstance: { id: 't', url: 'm:' },
  })
  const job = (output: Record<string, unknown> = {}, query = 'SELECT * FROM trips ORDER BY id') =>
    validateJob({
      apiVersion: 'subrosa/v1',
      kind: 'Job',
      metadata: { name: 'pg' },
      policy: 't/p/w',
      inputs: { trips: { format: 'parquet', uri: 'trips.parquet', key: 't/trips' } },
      query,
      outputs: {
        db: {
          format: 'postgres',
          uri: TEST_POSTGRES_URL,
          table,
          key: 't/out',
          encryptedColumns: ENCRYPTED,
          ...output,
        },
      },
    })
  // DuckDB's plaintext result, every value as text the way the SDK's values print.
  const reference = async (where = '') =>
    (
      await duck(
        `SELECT id::VARCHAR AS id, vendor, zone::VARCHAR AS zone, fare, day::VARCHAR AS day,
           strftime(ts, '%Y-%m-%d %H:%M:%S.%f') AS ts, paid::VARCHAR AS paid,
           amount::VARCHAR AS amount, note
         FROM '${plain()}' ${where}`,
      )
    )
      .map((row): Record<string, unknown> => ({ ...row, fare: String(row.fare) }))
      .sort((a, b) => Number(a.id) - Number(b.id))
  const read = async (where?: { column: string; value: string }, reader = kms) => {
    const client = await connect()
    try {
      const r = await readEncryptedTable(client, {
        table,
        kms: reader,
        ...(where === undefined ? {} : { where }),
      })
      const rows = r.rows
        .map((row) =>
          Object.fromEntries(
            Object.entries(row).map(([k, v]) => [k, v === null ? null : String(v)]),
          ),
        )
        .sort((a, b) => Number(a.id) - Number(b.id))
      return { ...r, rows }
    } finally {
      await client.end()
    }
  }

  it('stores the encrypted columns as cells only (psql, pg_dump) and the SDK reads back what DuckDB computed', async () => {
    const summary = await runJob(job(), ctx())
    assert.deepEqual(
      summary.outputs.map((o) => [o.name, o.format, o.rows, o.masterKeyId]),
      [['db', 'postgres', 300, 'subrosa:t/out']],
    )
    assert.ok((summary.outputs[0]?.bytes ?? 0) >= 300 * 7 * 65, 'cells were written')

    const types = await psql(
      `SELECT column_name || ':' || data_type FROM information_schema.columns WHERE table_schema = '${schema.name}' AND table_name = '${table.split('.')[1]}' ORDER BY ordinal_position`,
    )
    assert.deepEqual(types.trim().split('\n'), [
      'id:bigint',
      ...Object.keys(ENCRYPTED).map((c) => `${c}:bytea`),
    ])
    const cells = await psql(
      `SELECT encode(vendor, 'hex') || ' ' || encode(fare, 'hex') FROM ${table} ORDER BY id`,
    )
    for (const line of cells.trim().split('\n')) {
      for (const cell of line.split(' ')) {
        assert.match(cell, /^01[0-9a-f]{96}([0-9a-f]{32})+$/, 'version 1, tag, IV, whole blocks')
      }
    }
    const nulls = await psql(`SELECT count(*) FROM ${table} WHERE note IS NULL`)
    assert.equal(nulls.trim(), String(Math.ceil(300 / 11)), 'NULL stays NULL')

    const dump = await pgDump(schema.name)
    assert.ok(dump.includes(`COPY ${table}`), 'the dump holds the table data')
    const utf16 = (s: string) => Buffer.from(s, 'utf16le').toString('hex')
    for (const secret of ['vendor-3', 'note 17', '2024-01-05', '12.95'])
      for (const form of [secret, Buffer.from(secret).toString('hex'), utf16(secret)])
        assert.ok(!dump.includes(form), `no plaintext ${secret} (${form}) in pg_dump`)

    const keys = await psql(
      `SELECT column_name || ' ' || sql_type || ' ' || encryption_type || ' ' || algorithm || ' ' || master_key_id FROM ${schema.name}.subrosa_column_keys ORDER BY column_name`,
    )
    assert.deepEqual(keys.trim().split('\n'), [
      'amount decimal(10,2) deterministic AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
      'day date randomized AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
      'fare float randomized AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
      'note nvarchar randomized AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
      'paid bit randomized AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
      'ts datetime2(6) randomized AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
      'vendor nvarchar deterministic AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
      'zone int deterministic AEAD_AES_256_CBC_HMAC_SHA_256 subrosa:t/out',
    ])

    const back = await read()
    assert.deepEqual(back.columns, ['id', ...Object.keys(ENCRYPTED)])
    assert.deepEqual([...back.encryptedColumns].sort(), Object.keys(ENCRYPTED).sort())
    assert.deepEqual(back.rows, await reference())
  })

  it('deterministic columns give equal cells for equal values and answer equality lookups', async () => {
    await runJob(job(), ctx())
    const counts = await psql(
      `SELECT count(DISTINCT vendor) || ' ' || count(DISTINCT fare) || ' ' || count(DISTINCT zone) FROM ${table}`,
    )
    assert.equal(
      counts.trim(),
      '7 300 40',
      'deterministic: one cell per value; randomized: all differ',
    )
    const found = await read({ column: 'vendor', value: 'vendor-3' })
    assert.equal(found.rows.length, 43)
    assert.deepEqual(found.rows, await reference("WHERE vendor = 'vendor-3'"))
    assert.deepEqual(
      (await read({ column: 'zone', value: '17' })).rows,
      await reference('WHERE zone = 17'),
    )
    assert.deepEqual(
      (await read({ column: 'amount', value: '3.70' })).rows,
      await reference('WHERE id = 10'),
    )
    assert.deepEqual(
      (await read({ column: 'id', value: '5' })).rows,
      await reference('WHERE id = 5'),
    )
    assert.deepEqual((await read({ column: 'vendor', value: 'nobody' })).rows, [])
    await assert.rejects(read({ column: 'fare', value: '1.25' }), { code: 'ERR_SDK_LOOKUP' })
    await assert.rejects(read({ column: 'nope', value: '1' }), { code: 'ERR_SDK_LOOKUP' })
  })

  it('mode create refuses an existing table; append reuses its column keys; replace makes new ones', async () => {
    const first = 'SELECT * FROM trips WHERE id < 100 ORDER BY id'
    await runJob(job({}, first), ctx())
    const wrapped = () =>
      psql(
        `SELECT column_name || wrapped_cek FROM ${schema.name}.subrosa_column_keys WHERE table_name = '${table.split('.')[1]}' ORDER BY 1`,
      )
    const keys = await wrapped()
    await assert.rejects(runJob(job({}, first), ctx()), { code: 'ERR_ENGINE_CONFLICT' })
    assert.equal((await psql(`SELECT count(*) FROM ${table}`)).trim(), '100', 'nothing was written')

    await runJob(job({ mode: 'append' }, 'SELECT * FROM trips WHERE id >= 100 ORDER BY id'), ctx())
    assert.equal(await wrapped(), keys, 'append keeps the column keys')
    assert.deepEqual((await read()).rows, await reference())
    const vendors = await psql(`SELECT count(DISTINCT vendor) FROM ${table}`)
    assert.equal(vendors.trim(), '7', 'appended deterministic cells equal the earlier ones')

    await assert.rejects(
      runJob(
        job({ mode: 'append', encryptedColumns: { ...ENCRYPTED, vendor: 'randomized' } }),
        ctx(),
      ),
      { code: 'ERR_ENGINE_OUTPUT' },
    )
    await runJob(job({ mode: 'replace' }, first), ctx())
    assert.notEqual(await wrapped(), keys, 'replace makes new column keys')
    assert.deepEqual((await read()).rows, await reference('WHERE id < 100'))

    await runJob(job({ mode: 'append' }, 'SELECT * FROM trips WHERE id = 300'), ctx())
    assert.equal((await psql(`SELECT count(*) FROM ${table}`)).trim(), '100', 'an empty append')
  })

  it('streams a result of several DuckDB chunks into several INSERTs', async () => {
    const summary = await runJob(
      job(
        { encryptedColumns: { vendor: 'deterministic', note: 'randomized' } },
        'SELECT t.id * 20 + r.range AS id, t.vendor, t.note FROM trips t, range(20) r',
      ),
      ctx(),
    )
    assert.equal(summary.outputs[0]?.rows, 6000)
    const { rows } = await read()
    assert.equal(rows.length, 6000)
    for (const row of rows) {
      const source = Math.floor(Number(row.id) / 20)
      assert.equal(row.vendor, `vendor-${source % 7}`)
      assert.equal(row.note, source % 11 === 0 ? null : `note ${source}`)
    }
  })

  it('writes all or nothing: a failing output leaves no table', async () => {
    await assert.rejects(
      runJob(job({ encryptedColumns: { ...ENCRYPTED, missing: 'randomized' } }), ctx()),
      { code: 'ERR_ENGINE_OUTPUT' },
    )
    // the encrypted columns are not in this query's result
    await assert.rejects(runJob(job({}, "SELECT id, ['a'] AS tags FROM trips"), ctx()), {
      code: 'ERR_ENGINE_OUTPUT',
    })
    await assert.rejects(
      runJob(
        job({ encryptedColumns: { tags: 'randomized' } }, "SELECT id, ['a'] AS tags FROM trips"),
        ctx(),
      ),
      { code: 'ERR_ENGINE_UNSUPPORTED' },
    )
    assert.equal((await psql(`SELECT to_regclass('${table}') IS NULL`)).trim(), 't')
  })

  it('refuses a wrong master key and tampered cells, each with its code', async () => {
    await runJob(job({}, 'SELECT * FROM trips WHERE id < 5 ORDER BY id'), ctx())
    const other = createInMemoryKms({ 'subrosa:t/out': new Uint8Array(randomBytes(32)) })
    await assert.rejects(read(undefined, other), { code: 'ERR_CRYPTO_AUTH' })
    await assert.rejects(read(undefined, createInMemoryKms({})), {
      code: 'ERR_CRYPTO_UNKNOWN_MASTER_KEY',
    })
    assert.equal((await read()).rows.length, 5)

    const tamper = async (sql: string, code: string) => {
      await psql(`BEGIN; ${sql}; CREATE TEMP TABLE x AS SELECT 1; COMMIT`)
      await assert.rejects(read(), { code }, sql)
    }
    await psql(`CREATE TABLE ${table}_copy AS SELECT * FROM ${table}`)
    const restore = () =>
      psql(`DELETE FROM ${table}; INSERT INTO ${table} SELECT * FROM ${table}_copy`)
    await tamper(
      `UPDATE ${table} SET vendor = set_byte(vendor, 60, get_byte(vendor, 60) # 1) WHERE id = 1`,
      'ERR_AE_CELL_AUTH',
    )
    await restore()
    await tamper(
      `UPDATE ${table} SET fare = set_byte(fare, 5, get_byte(fare, 5) # 1) WHERE id = 2`,
      'ERR_AE_CELL_AUTH',
    )
    await restore()
    await tamper(
      `UPDATE ${table} SET ts = set_byte(ts, 40, get_byte(ts, 40) # 1) WHERE id = 2`,
      'ERR_AE_CELL_AUTH',
    )
    await restore()
    await tamper(
      `UPDATE ${table} SET day = set_byte(day, 0, 2) WHERE id = 3`,
      'ERR_AE_CELL_VERSION',
    )
    await restore()
    await tamper(
      `UPDATE ${table} SET amount = substring(amount from 1 for 64) WHERE id = 4`,
      'ERR_AE_CELL_TRUNCATED',
    )
    await restore()
    // a cell moved to another column (another key) does not verify either
    await tamper(`UPDATE ${table} SET zone = vendor WHERE id = 1`, 'ERR_AE_CELL_AUTH')
    await restore()
    assert.equal((await read()).rows.length, 5, 'the restored table reads again')
  })
})
