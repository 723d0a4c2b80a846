import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { composeQuery, sqlString } from './sql.ts'

const inputs = [
  {
    name: 'trips',
    relation: `read_parquet(${sqlString("/lake/o'brien/trips.parquet")}, encryption_config = {footer_key_value: $subrosa_key_1::BLOB})`,
  },
  { name: 'zones', relation: `read_csv('/scratch/zones.csv', header = true)` },
]

describe('composeQuery', () => {
  it('binds each input as a CTE over its relation, keys as named parameters', () => {
    const sql = composeQuery('SELECT count(*) FROM trips JOIN zones USING (id);', inputs)
    assert.equal(
      sql,
      `WITH "trips" AS (SELECT * FROM read_parquet('/lake/o''brien/trips.parquet', encryption_config = {footer_key_value: $subrosa_key_1::BLOB})),\n` +
        `  "zones" AS (SELECT * FROM read_csv('/scratch/zones.csv', header = true))\n` +
        'SELECT count(*) FROM trips JOIN zones USING (id)',
    )
  })

  it("merges with the query's own WITH clause, after comments", () => {
    const sql = composeQuery(
      '-- totals\n/* by day */ with daily AS (SELECT 1) SELECT * FROM daily',
      inputs.slice(0, 1),
    )
    assert.match(sql, /^WITH "trips" AS \(.*\),\ndaily AS \(SELECT 1\) SELECT \* FROM daily$/s)
    const rec = composeQuery(
      'WITH RECURSIVE r(n) AS (SELECT 1) SELECT * FROM r',
      inputs.slice(0, 1),
    )
    assert.match(rec, /^WITH RECURSIVE "trips" AS .*,\nr\(n\) AS/s)
  })

  it('never puts anything but paths into SQL text, and refuses empty queries', () => {
    assert.throws(() => composeQuery('  ;  ', inputs), { code: 'ERR_ENGINE_QUERY' })
    assert.throws(() => composeQuery('/* open', inputs), { code: 'ERR_ENGINE_QUERY' })
    assert.throws(() => sqlString('a\0b'), { code: 'ERR_ENGINE_INPUT' })
  })
})
