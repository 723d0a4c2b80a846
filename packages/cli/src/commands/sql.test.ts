// `subrosa sql decrypt` in process against a real PostgreSQL table holding Always Encrypted
// cells, with an in-memory KMS (--kms-key).
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { AE_ALGORITHM, createInMemoryKms, deriveCellKeys, parseAeSqlType } from '@subrosa/crypto'
import { columnKeysTableDdl, encryptColumnValue, tableNames } from '@subrosa/sdk'
import pg from 'pg'
import { runInProcess } from '../in-process.ts'

const URL_ = process.env.SUBROSA_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

async function unavailable(): Promise<string | false> {
  const client = new pg.Client({ connectionString: URL_, connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    return false
  } catch (error) {
    return `PostgreSQL unreachable at ${URL_} (${(error as Error).message}); set SUBROSA_TEST_POSTGRES`
  } finally {
    await client.end().catch(() => {})
  }
}
const skip = await unavailable()
if (skip) process.stderr.write(`SKIP subrosa sql decrypt: ${skip}\n`)

const KEY = randomBytes(32)
const keyed = ['--kms-key', `acme/out=${KEY.toString('hex')}`]
const schema = `cli_ae_${randomBytes(5).toString('hex')}`
const table = `${schema}.people`

describe('subrosa sql decrypt', { skip }, () => {
  const cli = (...args: string[]) =>
    runInProcess(['sql', 'decrypt', URL_, '--table', table, ...args])
  let client: pg.Client

  before(async () => {
    client = new pg.Client({ connectionString: URL_ })
    await client.connect()
    await client.query(`CREATE SCHEMA ${schema}`)
    await client.query(columnKeysTableDdl(table))
    const kms = createInMemoryKms({ 'subrosa:acme/out': new Uint8Array(KEY) })
    const columns = { name: ['nvarchar', 'deterministic'], age: ['int', 'randomized'] } as const
    const ciphers = new Map()
    for (const [column, [type, encryption]] of Object.entries(columns)) {
      const cek = new Uint8Array(randomBytes(32))
      await client.query(
        `INSERT INTO ${tableNames(table).keysTable} VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          'people',
          column,
          type,
          encryption,
          AE_ALGORITHM,
          'subrosa:acme/out',
          await kms.wrapKey(cek, 'subrosa:acme/out'),
        ],
      )
      ciphers.set(column, {
        column,
        type: parseAeSqlType(type),
        encryption,
        keys: deriveCellKeys(cek),
      })
    }
    await client.query(`CREATE TABLE ${table} (id bigint, name bytea, age bytea)`)
    const people: [number, string, number | null][] = [
      [1, 'Ada, "the first"', 36],
      [2, 'Grace', 85],
      [3, 'Ada, "the first"', null],
    ]
    for (const [id, name, age] of people)
      await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3)`, [
        id,
        Buffer.from(encryptColumnValue(ciphers.get('name'), name)),
        age === null ? null : Buffer.from(encryptColumnValue(ciphers.get('age'), age)),
      ])
  })
  after(async () => {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await client.end()
  })

  it('decrypts the table as JSON, CSV and a text table', async () => {
    const r = await cli(...keyed, '--json')
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.deepEqual(out.columns, ['id', 'name', 'age'])
    assert.deepEqual(out.encryptedColumns.sort(), ['age', 'name'])
    assert.deepEqual(
      out.rows.sort((a: { id: string }, b: { id: string }) => Number(a.id) - Number(b.id)),
      [
        { id: '1', name: 'Ada, "the first"', age: 36 },
        { id: '2', name: 'Grace', age: 85 },
        { id: '3', name: 'Ada, "the first"', age: null },
      ],
    )
    const csv = await cli(...keyed, '--csv', '--where', 'id=2')
    assert.equal(csv.status, 0, csv.stderr)
    assert.equal(csv.stdout, 'id,name,age\n2,Grace,85')
    const text = await cli(...keyed)
    assert.equal(text.status, 0, text.stderr)
    assert.match(text.stdout, /3 rows, encrypted columns: age, name/)
    assert.match(text.stdout, /Grace/)
  })

  it('looks up a deterministic column by its encrypted value', async () => {
    const r = await cli(...keyed, '--json', '--where', 'name=Ada, "the first"')
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(
      JSON.parse(r.stdout)
        .rows.map((row: { id: string }) => row.id)
        .sort(),
      ['1', '3'],
    )
    const randomized = await cli(...keyed, '--json', '--where', 'age=36')
    assert.equal(randomized.status, 1)
    assert.equal(JSON.parse(randomized.stdout).error.code, 'ERR_SDK_LOOKUP')
  })

  it('fails with a code for a wrong key, a missing table and bad usage, printing no plaintext', async () => {
    const wrong = await cli('--kms-key', `acme/out=${randomBytes(32).toString('hex')}`, '--json')
    assert.equal(wrong.status, 1)
    assert.equal(JSON.parse(wrong.stdout).error.code, 'ERR_CRYPTO_AUTH')
    assert.ok(!wrong.stdout.includes('Grace') && !wrong.stderr.includes('Grace'))
    const missing = await runInProcess([
      'sql',
      'decrypt',
      URL_,
      '--table',
      `${schema}.nope`,
      ...keyed,
      '--json',
    ])
    assert.equal(JSON.parse(missing.stdout).error.code, 'ERR_SDK_COLUMN_KEYS')
    const both = await cli(...keyed, '--json', '--csv')
    assert.equal(both.status, 2)
    const help = await runInProcess(['sql', 'decrypt', '--help'])
    assert.equal(help.status, 0)
    assert.match(help.stdout, /--where/)
    await client.query(
      `UPDATE ${table} SET name = set_byte(name, 60, get_byte(name, 60) # 1) WHERE id = 2`,
    )
    const tampered = await cli(...keyed, '--json')
    assert.equal(JSON.parse(tampered.stdout).error.code, 'ERR_AE_CELL_AUTH')
  })
})
