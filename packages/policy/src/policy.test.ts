import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SimClaims } from '@subrosa/attest'
import { evaluatePolicy } from './evaluate.ts'
import {
  parseKeyGrant,
  parsePolicy,
  parsePolicyRef,
  policyHash,
  workloadKeyAllowed,
} from './policy.ts'

const OWNER = `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${'A'.repeat(43)}`
const M1 = 'ab'.repeat(48)
const M2 = 'CD'.repeat(48)

const example = `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: taxi-analytics, predecessor: null }
owners: { threshold: 1, keys: ["${OWNER}"] }
workloads:
  - name: taxi-job
    accept:                       # any one of these evidence shapes
      - { tee: tdx, mrtd: "${'11'.repeat(48)}", rtmr3: "${'22'.repeat(48)}", tcb: [UpToDate] }
      - { tee: sgx, mrenclave: ["${'33'.repeat(32)}"], mrsigner: "${'44'.repeat(32)}", minIsvSvn: 2, tcb: [UpToDate, SWHardeningNeeded] }
      - { tee: sim, measurement: "${M1}" }   # development only
      - { tee: sim, measurement: ["${M2}"], minSvn: 3 }
    debug: deny
    inject:
      env: { SPARK_AUTH_FILE: /run/subrosa/spark-auth }
      files: { /run/subrosa/spark-auth: "{{secret:spark-auth}}" }
    keys: ["acme/taxi:unwrap", "acme/taxi-results:wrap"]
secrets:
  - { name: spark-auth, generate: { bytes: 32 } }
grants: [{ secret: spark-auth, to: acme/reporting }]
`

function claims(over: Partial<SimClaims> = {}): SimClaims {
  return {
    tee: 'sim',
    insecure: true,
    debug: false,
    measurement: M1,
    svn: 0,
    reportData: '00'.repeat(64),
    platformKey: 'k',
    ...over,
  }
}

function invalidPath(yaml: string): { path: string; errors: string[] } {
  try {
    parsePolicy(yaml)
  } catch (e) {
    const err = e as { code: string; details: { path: string; errors: string[] } }
    assert.equal(err.code, 'ERR_POLICY_INVALID')
    return err.details
  }
  assert.fail('expected ERR_POLICY_INVALID')
}

describe('policy documents', () => {
  it('parses the ARCHITECTURE.md example and normalizes it', () => {
    const p = parsePolicy(example)
    assert.equal(p.workloads[0]?.accept.length, 4)
    assert.deepEqual(p.workloads[0]?.accept[3], {
      tee: 'sim',
      measurement: [M2.toLowerCase()],
      minSvn: 3,
    })
    assert.equal(p.workloads[0]?.debug, 'deny')
    assert.deepEqual(p.grants, [{ secret: 'spark-auth', to: 'acme/reporting' }])
  })

  it('hashes the normalized document: formatting does not matter, content does', () => {
    const a = policyHash(parsePolicy(example))
    const reformatted = example
      .replace('# any one of these evidence shapes', '')
      .replace(M2, M2.toLowerCase())
      .replaceAll('{ ', '{')
      .replaceAll(' }', '}')
    assert.equal(policyHash(parsePolicy(reformatted)), a)
    assert.notEqual(policyHash(parsePolicy(example.replace(M1, 'ef'.repeat(48)))), a)
    assert.match(a, /^sha384:[0-9a-f]{96}$/)
  })

  it('reports each violation with its path', () => {
    assert.match(
      invalidPath(example.replace(`"${M1}"`, '"xyz"')).path,
      /^workloads\[0\]\.accept\[2\]\.measurement/,
    )
    assert.equal(
      invalidPath(example.replace('debug: deny', 'debug: deny\n    colour: blue')).path,
      'workloads[0]',
    )
    assert.equal(
      invalidPath(example.replace('tee: sim, measurement: "', 'tee: sgz, measurement: "')).path,
      'workloads[0].accept[2].tee',
    )
    assert.equal(
      invalidPath(example.replace('{{secret:spark-auth}}', '{{secret:nope}}')).path,
      'workloads[0].inject.files["/run/subrosa/spark-auth"]',
    )
    assert.equal(
      invalidPath(example.replace('{ /run/subrosa/spark-auth:', '{ /etc/spark-auth:')).path,
      'workloads[0].inject.files["/etc/spark-auth"]',
    )
    assert.equal(
      invalidPath(example.replace('threshold: 1', 'threshold: 2')).path,
      'owners.threshold',
    )
    assert.equal(
      invalidPath(example.replace('secret: spark-auth, to', 'secret: other, to')).path,
      'grants[0].secret',
    )
    assert.equal(
      invalidPath(
        example.replace(
          'SPARK_AUTH_FILE: /run/subrosa/spark-auth',
          'RAW: "{{secret:spark-auth:raw}}"',
        ),
      ).path,
      'workloads[0].inject.env.RAW',
    )
    const dup = `${example.replace('workloads:\n', `workloads:\n  - { name: taxi-job, accept: [{ tee: sim, measurement: "${M1}" }] }\n`)}`
    assert.equal(invalidPath(dup).path, 'workloads[1].name')
    assert.ok(invalidPath('apiVersion: subrosa/v2\nkind: Policy').errors.length >= 4)
  })

  it('refuses unparseable, oversized and alias-bomb YAML with ERR_POLICY_YAML', () => {
    assert.throws(
      () => parsePolicy('a: [1, 2\nb: c'),
      (e: { code: string; details: { line: number } }) =>
        e.code === 'ERR_POLICY_YAML' && e.details.line >= 1,
    )
    assert.throws(() => parsePolicy(`a: "${'x'.repeat(1 << 20)}"`), { code: 'ERR_POLICY_YAML' })
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${'bcdefghi'[i]}: &${'bcdefghi'[i]} [*${'abcdefgh'[i]}, *${'abcdefgh'[i]}, *${'abcdefgh'[i]}, *${'abcdefgh'[i]}, *${'abcdefgh'[i]}, *${'abcdefgh'[i]}]`,
      ),
    ].join('\n')
    assert.throws(() => parsePolicy(bomb), { code: 'ERR_POLICY_YAML' })
    assert.throws(() => parsePolicy('a: 1\na: 2'), { code: 'ERR_POLICY_YAML' })
  })
})

describe('evaluatePolicy', () => {
  const policy = parsePolicy(example)

  it('allows the first matching clause and names it', () => {
    const d = evaluatePolicy(policy, 'taxi-job', claims(), { allowSim: true })
    assert.deepEqual(d, {
      allow: true,
      workload: 'taxi-job',
      clause: 'workloads[0].accept[2]',
      reasons: [],
    })
    assert.equal(
      evaluatePolicy(policy, 'taxi-job', claims({ measurement: M2.toLowerCase(), svn: 3 }), {
        allowSim: true,
      }).clause,
      'workloads[0].accept[3]',
    )
  })

  it('denies another measurement with a reason per clause', () => {
    const d = evaluatePolicy(policy, 'taxi-job', claims({ measurement: 'ef'.repeat(48) }), {
      allowSim: true,
    })
    assert.equal(d.allow, false)
    assert.equal(d.clause, 'workloads[0].accept')
    assert.equal(d.reasons.length, 4)
    assert.match(d.reasons[2] as string, /measurement: .* is not accepted/)
  })

  it('denies sim unless the broker allows it, debug unless the workload does, and low SVNs', () => {
    assert.equal(
      evaluatePolicy(policy, 'taxi-job', claims(), { allowSim: false }).clause,
      'broker.allowSim',
    )
    const debug = evaluatePolicy(policy, 'taxi-job', claims({ debug: true }), { allowSim: true })
    assert.deepEqual([debug.allow, debug.clause], [false, 'workloads[0].debug'])
    const allowDebug = parsePolicy(example.replace('debug: deny', 'debug: allow'))
    assert.equal(
      evaluatePolicy(allowDebug, 'taxi-job', claims({ debug: true }), { allowSim: true }).allow,
      true,
    )
    assert.equal(
      evaluatePolicy(policy, 'taxi-job', claims({ measurement: M2.toLowerCase(), svn: 2 }), {
        allowSim: true,
      }).allow,
      false,
    )
  })

  it('throws for an unknown workload', () => {
    assert.throws(() => evaluatePolicy(policy, 'nope', claims(), { allowSim: true }), {
      code: 'ERR_POLICY_UNKNOWN_WORKLOAD',
    })
  })

  it('parses references and key grants', () => {
    assert.deepEqual(parsePolicyRef('acme/taxi-analytics/taxi-job'), {
      namespace: 'acme',
      policy: 'taxi-analytics',
      workload: 'taxi-job',
    })
    assert.equal(parsePolicyRef('acme/taxi'), undefined)
    assert.deepEqual(parseKeyGrant('acme/taxi:unwrap'), {
      namespace: 'acme',
      key: 'taxi',
      operation: 'unwrap',
    })
    assert.equal(parseKeyGrant('acme/taxi:read'), undefined)
    const w = policy.workloads[0]
    assert.ok(w !== undefined && workloadKeyAllowed(w, 'acme', 'taxi', 'unwrap'))
    assert.ok(w !== undefined && !workloadKeyAllowed(w, 'acme', 'taxi', 'wrap'))
  })
})
