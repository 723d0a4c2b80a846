import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fieldsToRead, referencedColumns } from './columns.ts'

const FIELDS = ['VendorID', 'PULocationID', 'fare_amount', 'tip_amount', 'pickup']

async function fields(query: string, input = 'trips'): Promise<string[] | 'all'> {
  const read = fieldsToRead(await referencedColumns([query]), input, FIELDS)
  return read === undefined ? 'all' : [...read]
}

describe('referencedColumns and fieldsToRead', () => {
  it('keeps the fields a query names anywhere, qualified or not, in any case', async () => {
    assert.deepEqual(
      await fields(
        'SELECT PULocationID, count(*), round(avg(t.FARE_AMOUNT), 2) FROM trips t GROUP BY 1',
      ),
      ['PULocationID', 'fare_amount'],
    )
    assert.deepEqual(
      await fields(
        `SELECT z.borough FROM trips t JOIN zones z ON t.pulocationid = z.id
         WHERE "tip_amount" > $min QUALIFY row_number() OVER (ORDER BY pickup) < 3`,
      ),
      ['PULocationID', 'tip_amount', 'pickup'],
    )
    assert.deepEqual(await fields('WITH x AS (SELECT vendorid AS v FROM trips) SELECT v FROM x'), [
      'VendorID',
    ])
    assert.deepEqual(await fields('SELECT 1 FROM trips JOIN zones USING (PULocationID)'), [
      'PULocationID',
    ])
  })

  it('reads ORDER BY ALL as the select list, not as every column', async () => {
    assert.deepEqual(
      await fields('SELECT VendorID, sum(tip_amount) FROM trips GROUP BY ALL ORDER BY ALL'),
      ['VendorID', 'tip_amount'],
    )
    assert.equal(await fields('SELECT VendorID FROM trips ORDER BY * EXCLUDE (x)'), 'all')
  })

  it('keeps the first field when the query names none', async () => {
    assert.deepEqual(await fields('SELECT count(*) FROM trips'), ['VendorID'])
  })

  it('reads everything when the query could read a column without naming it', async () => {
    for (const query of [
      'SELECT * FROM trips',
      'FROM trips',
      'SELECT #2 FROM trips',
      'SELECT t.* FROM trips t',
      'SELECT * EXCLUDE (pickup) FROM trips',
      "SELECT COLUMNS('.*amount') FROM trips",
      'SELECT count(*) FROM trips NATURAL JOIN zones',
      'PIVOT trips ON VendorID USING sum(fare_amount)',
      'UNPIVOT trips ON fare_amount, tip_amount INTO NAME k VALUE v',
      'SELECT trips FROM trips',
      'SELECT to_json(trips) FROM trips',
      'SELECT to_json(t) FROM trips AS t',
      'SELECT list(r) FROM (SELECT * FROM trips) r',
      'WITH w AS (FROM trips) SELECT w FROM w',
      'SELECT FROM WHERE', // a syntax error: the run reports it, projection stays out of its way
    ])
      assert.equal(await fields(query), 'all', query)
  })

  it('unions the columns of several queries', async () => {
    const referenced = await referencedColumns([
      'SELECT fare_amount FROM trips',
      'SELECT tip_amount FROM trips',
    ])
    assert.deepEqual(
      [...(fieldsToRead(referenced, 'trips', FIELDS) ?? [])],
      ['fare_amount', 'tip_amount'],
    )
  })
})
