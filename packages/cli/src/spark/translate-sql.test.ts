import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isSubrosaError } from '@subrosa/core'
import { translateSql } from './translate-sql.ts'

const refused = (query: string, construct: string) =>
  assert.throws(
    () => translateSql(query),
    (e: unknown) =>
      isSubrosaError(e) && e.code === 'ERR_SPARK_SQL' && e.details?.construct === construct,
    query,
  )

describe('translateSql (DuckDB subset -> Spark SQL)', () => {
  it('rewrites parameters, quoted identifiers, string escapes and cast types', () => {
    assert.deepEqual(
      translateSql(
        `WITH t AS (SELECT "Zone Name", fare FROM trips WHERE note = 'it''s a \\ path' AND fare > $min)
SELECT "Zone Name", CAST(sum(fare) AS VARCHAR) AS s, TRY_CAST(fare AS DECIMAL(10, 2)) AS d
FROM t WHERE fare < $max OR fare = $min GROUP BY "Zone Name";`,
      ),
      {
        sql: `WITH t AS (SELECT \`Zone Name\`, fare FROM trips WHERE note = 'it\\'s a \\\\ path' AND fare > :min)
SELECT \`Zone Name\`, CAST(sum(fare) AS STRING) AS s, TRY_CAST(fare AS DECIMAL(10, 2)) AS d
FROM t WHERE fare < :max OR fare = :min GROUP BY \`Zone Name\``,
        parameters: ['min', 'max'],
      },
    )
  })

  it('keeps comments, window functions, CASE, IN and EXISTS', () => {
    const q =
      'SELECT -- zone\n zone, row_number() OVER (PARTITION BY zone ORDER BY fare DESC) AS r, CASE WHEN fare IN (1, 2) THEN 1 ELSE 0 END AS c FROM trips WHERE EXISTS (SELECT 1 FROM zones) /* end */'
    assert.equal(translateSql(q).sql, q)
  })

  it('refuses DuckDB-only functions, syntax and operators, naming the construct', () => {
    refused("SELECT * FROM read_parquet('x')", 'the function read_parquet()')
    refused('SELECT list_value(1, 2)', 'the function list_value()')
    refused('SELECT dayofweek(d) FROM t', 'the function dayofweek()')
    refused("SELECT regexp_replace(s, 'a', 'b') FROM t", 'the function regexp_replace()')
    refused('SELECT x::INTEGER FROM t', 'a :: cast')
    refused('SELECT [1, 2]', 'the operator [')
    refused("SELECT {'a': 1}", 'the operator {')
    refused('SELECT 7 // 2', 'the operator //')
    refused('SELECT * EXCLUDE (x) FROM t', 'SELECT * EXCLUDE')
    refused('SELECT x FROM t QUALIFY row_number() OVER () = 1', 'QUALIFY')
    refused('SELECT x, count(*) FROM t GROUP BY ALL', 'GROUP BY ALL / ORDER BY ALL')
    refused('SELECT * FROM t ASOF JOIN u ON t.a >= u.a', 'ASOF JOIN')
    refused('SELECT * FROM t USING SAMPLE 10', 'USING SAMPLE')
    refused('FROM t SELECT x', 'a FROM-first query')
    refused("COPY t TO 'x.csv'", 'a query starting with copy')
    refused('SELECT 1; SELECT 2', 'a second statement')
    refused('SELECT $1', 'the parameter $1')
    refused("SELECT E'\\n'", "an E'...' escape string")
    refused('SELECT CAST(x AS HUGEINT) FROM t', 'the type HUGEINT')
    refused("SELECT 'open", 'an unterminated string literal')
    refused('SELECT concat(a, b) FROM t', 'the function concat()')
    refused('SELECT "a""b" FROM t', 'the identifier a')
  })

  it('lets names that are DuckDB keywords elsewhere through', () => {
    assert.equal(
      translateSql('SELECT sample, pivot_id, glob_count FROM t').sql,
      'SELECT sample, pivot_id, glob_count FROM t',
    )
  })
})
