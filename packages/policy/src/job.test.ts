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
      [edit('fares: {', 'a: { format: parquet, uri: x, key: a/b }\n  fares: {'), 'outputs'],
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
