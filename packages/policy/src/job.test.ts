import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parse } from 'yaml'
import { EXAMPLE_JOB as job, thrown } from '../test/fixtures.ts'
import { parseJob, validateJob } from './job.ts'

function edit(from: string | RegExp, to: string): string {
  const out = job.replace(from, to)
  assert.notEqual(out, job, `fixture does not contain ${String(from)}`)
  return out
}

describe('job documents', () => {
  it('parses the example, filling defaults', () => {
    const j = parseJob(job)
    assert.equal(j.metadata.name, 'taxi-fares')
    assert.equal(j.policy, 'acme/taxi-analytics/taxi-job')
    assert.equal(j.engine, 'duckdb')
    assert.deepEqual(j.inputs, {
      trips: { format: 'parquet', uri: 'lake/trips.parquet', key: 'acme/taxi' },
    })
    assert.deepEqual(Object.keys(j.outputs), ['fares'])
    assert.deepEqual(j.limits, { memory: '2GB', threads: 2 })
    assert.deepEqual(validateJob(parse(job)), j)
  })

  it('accepts spark (the runner decides whether it supports it) and inputs without keys', () => {
    const j = parseJob(
      edit('limits:', 'engine: spark\nlimits:').replace(', key: acme/taxi }', ' }'),
    )
    assert.equal(j.engine, 'spark')
    assert.equal(j.inputs.trips?.key, undefined)
  })

  it('takes several inputs and outputs of every format, parameters and per-output queries', () => {
    const j = parseJob(
      edit(
        /outputs:\n.*\n/,
        [
          'parameters: { min_fare: 2.5, since: "2024-01-01", paid: true }',
          'outputs:',
          '  fares: { format: parquet, uri: lake/fares.parquet, key: acme/taxi-results }',
          '  report: { format: csv, uri: out/r.csv.srsa, key: acme/r, query: "SELECT 1 AS x" }',
          '  lines: { format: jsonl, uri: out/r.jsonl.srsa, key: acme/r }',
          '  table: { format: delta, uri: lake/agg, key: acme/r, partitionBy: [vendor_id] }',
          '  db: { format: postgres, uri: "postgres://app@127.0.0.1/test", table: public.fares, key: acme/cmk, encryptedColumns: { vendor_id: deterministic } }',
          '',
        ].join('\n'),
      ).replace(
        /inputs:\n/,
        'inputs:\n  people: { format: csv, uri: people.csv.srsa, delimiter: ";" }\n  zones: { format: delta, uri: lake/zones, version: 3 }\n  events: { format: jsonl, uri: e.jsonl.srsa, columns: { id: BIGINT, at: TIMESTAMP } }\n',
      ),
    )
    assert.deepEqual(Object.keys(j.inputs), ['people', 'zones', 'events', 'trips'])
    assert.deepEqual(j.inputs.people, {
      format: 'csv',
      uri: 'people.csv.srsa',
      delimiter: ';',
      header: true,
    })
    assert.deepEqual(j.parameters, { min_fare: 2.5, since: '2024-01-01', paid: true })
    assert.equal(j.outputs.report?.query, 'SELECT 1 AS x')
    assert.deepEqual(j.outputs.table, {
      format: 'delta',
      uri: 'lake/agg',
      key: 'acme/r',
      mode: 'append',
      partitionBy: ['vendor_id'],
    })
    assert.deepEqual(j.outputs.db, {
      format: 'postgres',
      uri: 'postgres://app@127.0.0.1/test',
      table: 'public.fares',
      key: 'acme/cmk',
      mode: 'create',
      encryptedColumns: { vendor_id: 'deterministic' },
    })
  })

  it('reports violations with paths', () => {
    const cases: [string, string][] = [
      [edit('acme/taxi-analytics/taxi-job', 'acme/taxi'), 'policy'],
      [edit('trips: {', '"bad name": {'), 'inputs["bad name"]'],
      [edit('trips: {', 'select-1: {'), 'inputs.select-1'],
      [edit('trips: {', 'Trips: { format: parquet, uri: a }\n  trips: {'), 'inputs.trips'],
      [edit(/inputs:\n.*\n/, 'inputs: {}\n'), 'inputs'],
      [edit('key: acme/taxi-results', 'key: results'), 'outputs.fares.key'],
      [edit(', key: acme/taxi-results }', ' }'), 'outputs.fares.key'],
      [edit(/query: .*/, 'query: "  "'), 'query'],
      [
        edit('format: parquet, uri: lake/trips', 'format: orc, uri: lake/trips'),
        'inputs.trips.format',
      ],
      [edit(/query: .*\n/, ''), 'outputs.fares.query'],
      [
        edit(
          'fares: {',
          'db: { format: postgres, uri: "postgres://u:pw@h/d", table: t, key: a/b }\n  fares: {',
        ),
        'outputs.db.uri',
      ],
      [edit('query:', 'parameters: { subrosa_key: 1 }\nquery:'), 'parameters.subrosa_key'],
      [
        edit('trips: { format: parquet,', 'trips: { format: csv, delimiter: ";;",'),
        'inputs.trips.delimiter',
      ],
      [
        edit('trips: { format: parquet,', 'trips: { format: delta, version: -1,'),
        'inputs.trips.version',
      ],
      [edit(/outputs:\n.*\n/, 'outputs: {}\n'), 'outputs'],
      [edit('limits:', 'engine: postgres\nlimits:'), 'engine'],
      [edit('memory: 2GB', 'memory: lots'), 'limits.memory'],
      [edit('threads: 2', 'threads: 0'), 'limits.threads'],
      [
        edit('metadata: { name: taxi-fares }', 'metadata: { name: taxi-fares, owner: me }'),
        'metadata.owner',
      ],
      [edit('kind: Job', 'kind: Policy'), 'kind'],
    ]
    for (const [yaml, path] of cases) {
      const error = thrown(() => parseJob(yaml))
      assert.equal(error.code, 'ERR_JOB_INVALID', path)
      assert.equal(error.details.path, path)
      assert.ok(error.details.errors[0]?.startsWith(`${path}: `))
    }
  })
})
