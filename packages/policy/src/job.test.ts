import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseJob } from './job.ts'

const job = `apiVersion: subrosa/v1
kind: Job
metadata: { name: taxi-fares }
policy: acme/taxi-analytics/taxi-job
inputs:
  trips: { format: parquet, uri: lake/trips.parquet, key: acme/taxi }
query: SELECT count(*) FROM trips
outputs:
  fares: { format: parquet, uri: lake/out.parquet, key: acme/results }
limits: { memory: 2GB, threads: 2 }
`

describe('job documents', () => {
  it('parses with defaults', () => {
    const j = parseJob(job)
    assert.equal(j.engine, 'duckdb')
    assert.equal(j.inputs.trips?.key, 'acme/taxi')
    assert.equal(j.limits?.memory, '2GB')
  })

  it('reports violations with paths', () => {
    const cases: [string, string][] = [
      [job.replace('acme/taxi-analytics/taxi-job', 'acme/taxi'), 'policy'],
      [job.replace('trips: {', '"bad name": {'), 'inputs["bad name"]'],
      [job.replace('key: acme/results', 'key: results'), 'outputs.fares.key'],
      [job.replace('query: SELECT count(*) FROM trips', 'query: "  "'), 'query'],
      [
        job.replace('format: parquet, uri: lake/trips', 'format: orc, uri: lake/trips'),
        'inputs.trips.format',
      ],
      [job.replace('fares: {', 'a: { format: parquet, uri: x, key: a/b }\n  fares: {'), 'outputs'],
    ]
    for (const [yaml, path] of cases) {
      assert.throws(
        () => parseJob(yaml),
        (e: { code: string; details: { path: string } }) =>
          e.code === 'ERR_JOB_INVALID' && e.details.path === path,
        path,
      )
    }
    assert.throws(() => parseJob('query: [unclosed'), { code: 'ERR_JOB_YAML' })
  })
})
