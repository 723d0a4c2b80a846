import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parse, stringify } from 'yaml'
import { EXAMPLE_POLICY as EXAMPLE, OWNER, SIM_V1, SIM_V2 } from '../test/fixtures.ts'
import {
  parseKeyGrant,
  parsePolicy,
  parsePolicyRef,
  policyHash,
  validatePolicy,
  workloadKeyAllowed,
} from './policy.ts'

/** Reverse the key order of every mapping, to show that order does not matter. */
function reverseKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reverseKeys)
  if (typeof value !== 'object' || value === null) return value
  return Object.fromEntries(
    Object.entries(value)
      .reverse()
      .map(([k, v]) => [k, reverseKeys(v)]),
  )
}

describe('parsePolicy', () => {
  it('parses the ARCHITECTURE.md example, filling defaults and normalizing hex to lower case', () => {
    const p = parsePolicy(EXAMPLE)
    assert.deepEqual(p.metadata, { namespace: 'acme', name: 'taxi-analytics', predecessor: null })
    const w = p.workloads[0]
    assert.equal(w?.name, 'taxi-job')
    assert.equal(w?.debug, 'deny')
    assert.deepEqual(
      w?.accept.map((c) => c.tee),
      ['tdx', 'sgx', 'sim', 'sim'],
    )
    assert.deepEqual(w?.accept[2], { tee: 'sim', measurement: [SIM_V1] })
    assert.deepEqual(w?.accept[3], { tee: 'sim', measurement: [SIM_V2], minSvn: 3 })
    assert.deepEqual(w?.inject.files, { '/run/subrosa/spark-auth': '{{secret:spark-auth}}' })
    assert.deepEqual(w?.keys, ['acme/taxi:unwrap', 'acme/taxi-results:wrap'])
    assert.deepEqual(p.secrets, [{ name: 'spark-auth', generate: { bytes: 32 } }])
    assert.deepEqual(p.grants, [{ secret: 'spark-auth', to: 'acme/reporting' }])
  })

  it('validates already-parsed documents (JSON) the same way', () => {
    const p = validatePolicy(JSON.parse(JSON.stringify(parse(EXAMPLE))))
    assert.deepEqual(p, parsePolicy(EXAMPLE))
    assert.throws(() => validatePolicy('not a policy'), {
      code: 'ERR_POLICY_INVALID',
      details: {
        path: '(document)',
        errors: ['(document): Invalid input: expected object, received string'],
      },
    })
  })

  it('fills defaults for optional sections', () => {
    const minimal = parsePolicy(`apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: minimal }
owners: { threshold: 1, keys: ["${OWNER}"] }
workloads: [{ name: w, accept: [{ tee: sim, measurement: "${SIM_V1}" }] }]
`)
    assert.equal(minimal.metadata.predecessor, null)
    assert.deepEqual(minimal.workloads[0]?.inject, { env: {}, files: {} })
    assert.deepEqual(minimal.workloads[0]?.keys, [])
    assert.deepEqual([minimal.secrets, minimal.grants], [[], []])
  })
})

describe('policyHash', () => {
  const hash = policyHash(parsePolicy(EXAMPLE))

  it('is sha384 over the normalized document: comments, style, key order and hex case do not count', () => {
    assert.match(hash, /^sha384:[0-9a-f]{96}$/)
    const block = stringify(reverseKeys(parse(EXAMPLE)), { collectionStyle: 'block' })
    assert.doesNotMatch(block, /#/)
    assert.equal(policyHash(parsePolicy(block)), hash)
    assert.equal(policyHash(parsePolicy(EXAMPLE.replace('    debug: deny\n', ''))), hash)
    const lowered = EXAMPLE.replace(SIM_V2.toUpperCase(), SIM_V2)
    assert.equal(policyHash(parsePolicy(lowered)), hash)
    const listed = EXAMPLE.replace(`measurement: "${SIM_V1}"`, `measurement: ["${SIM_V1}"]`)
    assert.equal(policyHash(parsePolicy(listed)), hash)
  })

  it('changes when a measurement, a key grant or the predecessor changes', () => {
    const other = 'ab'.repeat(48)
    assert.notEqual(policyHash(parsePolicy(EXAMPLE.replace(SIM_V1, other))), hash)
    assert.notEqual(
      policyHash(parsePolicy(EXAMPLE.replace('acme/taxi:unwrap', 'acme/taxi:wrap'))),
      hash,
    )
    const next = parsePolicy(
      EXAMPLE.replace(
        'predecessor: null',
        `predecessor: "${hash.toUpperCase().replace('SHA384', 'sha384')}"`,
      ),
    )
    assert.equal(next.metadata.predecessor, hash)
    assert.notEqual(policyHash(next), hash)
  })
})

describe('references and key grants', () => {
  it('parses <namespace>/<policy>/<workload>', () => {
    assert.deepEqual(parsePolicyRef('acme/taxi-analytics/taxi-job'), {
      namespace: 'acme',
      policy: 'taxi-analytics',
      workload: 'taxi-job',
    })
    for (const bad of ['acme/taxi', 'acme/taxi/job/x', 'Acme/taxi/job', 'acme//job', '-a/b/c'])
      assert.equal(parsePolicyRef(bad), undefined, bad)
  })

  it('parses <namespace>/<key>:wrap|unwrap and checks a workload against it', () => {
    assert.deepEqual(parseKeyGrant('acme/taxi:unwrap'), {
      namespace: 'acme',
      key: 'taxi',
      operation: 'unwrap',
    })
    for (const bad of ['acme/taxi:read', 'acme/taxi', 'taxi:wrap', 'acme/taxi:wrap:x'])
      assert.equal(parseKeyGrant(bad), undefined, bad)
    const w = parsePolicy(EXAMPLE).workloads[0]
    assert.ok(w !== undefined)
    assert.equal(workloadKeyAllowed(w, 'acme', 'taxi', 'unwrap'), true)
    assert.equal(workloadKeyAllowed(w, 'acme', 'taxi', 'wrap'), false)
    assert.equal(workloadKeyAllowed(w, 'acme', 'taxi-results', 'wrap'), true)
    assert.equal(workloadKeyAllowed(w, 'other', 'taxi', 'unwrap'), false)
  })
})
