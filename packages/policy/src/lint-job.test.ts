import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EXAMPLE_JOB, EXAMPLE_POLICY } from '../test/fixtures.ts'
import { parseJob } from './job.ts'
import { lintJob, queryParameters } from './lint-job.ts'
import { parsePolicy } from './policy.ts'

const policy = parsePolicy(EXAMPLE_POLICY)
const checks = (yaml: string) =>
  lintJob(parseJob(yaml), policy).map((f) => `${f.level} ${f.check} ${f.path}`)

describe('lintJob', () => {
  it('finds nothing wrong with the example job under the example policy', () => {
    assert.deepEqual(checks(EXAMPLE_JOB), [])
  })

  it('names keys the workload is not granted, for the operation the job needs', () => {
    const yaml = EXAMPLE_JOB.replace('key: acme/taxi }', 'key: acme/taxi-results }').replace(
      'key: acme/taxi-results }\nlimits',
      'key: acme/taxi }\nlimits',
    )
    assert.deepEqual(checks(yaml), [
      'error key-not-granted inputs.trips.key',
      'error key-not-granted outputs.fares.key',
    ])
    const append = EXAMPLE_JOB.replace(
      /fares: \{.*\}/,
      'fares: { format: postgres, uri: "postgres://app@db/x", table: fares, key: acme/taxi-results, mode: append }',
    )
    assert.deepEqual(checks(append), ['error key-not-granted outputs.fares.key'])
  })

  it('refuses a job for another policy or a missing workload, and warns on undeclared keys', () => {
    assert.deepEqual(
      checks(EXAMPLE_JOB.replace('acme/taxi-analytics/taxi-job', 'acme/other/taxi-job')),
      ['error policy-mismatch policy'],
    )
    assert.deepEqual(
      checks(EXAMPLE_JOB.replace('acme/taxi-analytics/taxi-job', 'acme/taxi-analytics/spark')),
      ['error workload-missing policy'],
    )
    assert.deepEqual(checks(EXAMPLE_JOB.replace(', key: acme/taxi }', ' }')), [
      'warning key-undeclared inputs.trips.key',
    ])
  })

  it('checks parameters against the queries that use them', () => {
    const yaml = EXAMPLE_JOB.replace(
      /query: .*/,
      'parameters: { min_fare: 2, unused: x }\nquery: "SELECT * FROM trips WHERE fare > $min_fare AND vendor = $vendor AND note <> \'$not\' -- $nor"',
    )
    assert.deepEqual(checks(yaml), [
      'error parameter-undeclared query',
      'warning parameter-unused parameters.unused',
    ])
  })
})

describe('queryParameters', () => {
  it('finds $names outside strings, quoted identifiers, comments and dollar quotes', () => {
    assert.deepEqual(
      queryParameters(
        `SELECT "$col", 'it''s $a', $$ $b $$, $c /* $d */ FROM t WHERE x = $e AND y = $1 -- $f\n AND z = $g_2`,
      ),
      ['c', 'e', 'g_2'],
    )
  })
})
