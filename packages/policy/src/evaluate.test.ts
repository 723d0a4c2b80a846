import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EXAMPLE_POLICY, SIM_V1, SIM_V2, simClaims } from '../test/fixtures.ts'
import { evaluatePolicy } from './evaluate.ts'
import { parsePolicy } from './policy.ts'

const policy = parsePolicy(EXAMPLE_POLICY)
const sim = { allowSim: true }

describe('evaluatePolicy', () => {
  it('allows by the first matching clause, listing the clauses tried', () => {
    assert.deepEqual(evaluatePolicy(policy, 'taxi-job', simClaims(), sim), {
      allow: true,
      workload: 'taxi-job',
      clause: 'workloads[0].accept[2]',
      reasons: [
        'accept[0]: needs tee tdx, the evidence is sim',
        'accept[1]: needs tee sgx, the evidence is sim',
        'accept[2]: matches',
      ],
    })
    const v2 = evaluatePolicy(policy, 'taxi-job', simClaims({ measurement: SIM_V2, svn: 3 }), sim)
    assert.deepEqual([v2.allow, v2.clause], [true, 'workloads[0].accept[3]'])
  })

  it('denies another measurement at workloads[i].accept with one reason per clause', () => {
    const other = 'ab'.repeat(48)
    const d = evaluatePolicy(policy, 'taxi-job', simClaims({ measurement: other }), sim)
    assert.equal(d.allow, false)
    assert.equal(d.clause, 'workloads[0].accept')
    assert.deepEqual(d.reasons, [
      'accept[0]: needs tee tdx, the evidence is sim',
      'accept[1]: needs tee sgx, the evidence is sim',
      `accept[2]: measurement: ${other} is not accepted`,
      `accept[3]: measurement: ${other} is not accepted`,
    ])
  })

  it('compares measurements exactly: a near miss or another case does not match', () => {
    const nearMiss = `${SIM_V1.slice(0, -1)}4`
    assert.equal(
      evaluatePolicy(policy, 'taxi-job', simClaims({ measurement: nearMiss }), sim).allow,
      false,
    )
    const upper = SIM_V1.toUpperCase()
    assert.equal(
      evaluatePolicy(policy, 'taxi-job', simClaims({ measurement: upper }), sim).allow,
      false,
    )
  })

  it('enforces minSvn', () => {
    const low = evaluatePolicy(policy, 'taxi-job', simClaims({ measurement: SIM_V2, svn: 2 }), sim)
    assert.equal(low.allow, false)
    assert.equal(low.reasons[3], 'accept[3]: minSvn: svn 2 is below 3')
    const high = evaluatePolicy(policy, 'taxi-job', simClaims({ measurement: SIM_V2, svn: 9 }), sim)
    assert.equal(high.allow, true)
  })

  it('denies sim evidence at broker.allowSim unless the broker opts in', () => {
    assert.deepEqual(evaluatePolicy(policy, 'taxi-job', simClaims(), { allowSim: false }), {
      allow: false,
      workload: 'taxi-job',
      clause: 'broker.allowSim',
      reasons: ['the broker does not accept the insecure sim TEE'],
    })
  })

  it('denies sim evidence when the broker allows sim but the workload has no matching sim clause', () => {
    const hardwareOnly = parsePolicy(
      EXAMPLE_POLICY.replace(/ {6}- tee: sim[\s\S]*?(?= {4}debug:)/, ''),
    )
    assert.equal(hardwareOnly.workloads[0]?.accept.length, 2)
    const d = evaluatePolicy(hardwareOnly, 'taxi-job', simClaims(), sim)
    assert.deepEqual([d.allow, d.clause, d.reasons.length], [false, 'workloads[0].accept', 2])
  })

  it('denies debug evidence at workloads[i].debug unless the workload allows debug', () => {
    const d = evaluatePolicy(policy, 'taxi-job', simClaims({ debug: true }), sim)
    assert.deepEqual([d.allow, d.clause], [false, 'workloads[0].debug'])
    assert.equal(d.reasons.length, 1)
    const allowDebug = parsePolicy(EXAMPLE_POLICY.replace('debug: deny', 'debug: allow'))
    assert.equal(
      evaluatePolicy(allowDebug, 'taxi-job', simClaims({ debug: true }), sim).allow,
      true,
    )
  })

  it('throws ERR_POLICY_UNKNOWN_WORKLOAD for a workload the policy does not have', () => {
    assert.throws(() => evaluatePolicy(policy, 'nope', simClaims(), sim), {
      code: 'ERR_POLICY_UNKNOWN_WORKLOAD',
    })
  })
})
