// `subrosa demo healthcare --json`: the whole chain once, in this process.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { WDBC_CSV_PATH } from '@subrosa/inference'
import { runInProcess } from '../in-process.ts'
import { redisInstalled } from './redis.ts'
import type { HealthcareDemoReport } from './run-demo.ts'

const skip = !existsSync(WDBC_CSV_PATH)
  ? `${WDBC_CSV_PATH} is absent (apt-get install python3-sklearn)`
  : !redisInstalled()
    ? 'redis-server and redis-cli are not installed (apt-get install redis-server)'
    : false

describe('subrosa demo healthcare', { skip }, () => {
  it('reports every hop verified, the diagnosis and the refused replay', async () => {
    const { status, stdout, stderr } = await runInProcess(['demo', 'healthcare', '--json'])
    assert.equal(status, 0, stderr)
    const report = JSON.parse(stdout) as HealthcareDemoReport
    assert.equal(report.ok, true)
    assert.equal(report.insecure, true)
    assert.deepEqual(
      report.hops.map((h) => `${h.from}->${h.to}`),
      ['clerk->api', 'api->caller', 'api->redis', 'api->diagnostics'],
    )
    assert.ok(report.hops.every((h) => h.verified.length > 0))
    assert.match(report.diagnosis.diagnosis, /^(malignant|benign)$/)
    assert.equal(report.diagnosis.diagnosis, report.diagnosis.expected)
    assert.deepEqual(report.refusals, [
      { what: 'the same service token again', code: 'ERR_TOKEN_REPLAY' },
    ])
    assert.ok(!stdout.includes('Patient '), 'no patient name in the report')
  })
})
