import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import { type EarInput, signEarToken } from './ear.ts'
import { appraiseServiceToken, type ServiceTokenExpectation } from './service-token.ts'

// Every check is also exercised through the SDK's verifyServiceToken (sdk/attested-service.test):
// here, the appraisal's own contract: the failed check's name and the facts the portal shows.
const ISSUER = 'https://broker.test'
const NOW = new Date('2026-12-01T12:00:00Z')
const MEASUREMENT = 'ab'.repeat(48)

describe('appraiseServiceToken', () => {
  let signing: JWK
  let stranger: JWK
  let jwks: { keys: JWK[] }
  let teePublicKey: EarInput['teePublicKey']

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    signing = { ...(await exportJWK(pair.privateKey)), kid: 'k1' }
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] }
    const other = await generateKeyPair('ES256', { extractable: true })
    stranger = { ...(await exportJWK(other.privateKey)), kid: 'k1' }
    const tee = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
    const { x, y } = await exportJWK(tee.publicKey)
    teePublicKey = { kty: 'EC', crv: 'P-256', x: x as string, y: y as string }
  })

  const token = (evidence: Record<string, unknown> = {}, key = signing, now = NOW) =>
    signEarToken(
      {
        issuer: ISSUER,
        now,
        ttlSeconds: 600,
        jti: 'jti-1',
        nonce: 'n',
        build: 'test',
        status: 'warning',
        trustVector: {},
        annotatedEvidence: {
          tee: 'sim',
          insecure: true,
          debug: false,
          measurement: MEASUREMENT,
          ...evidence,
        },
        teePublicKey,
        workload: {
          namespace: 'health',
          policy: 'clinic',
          workload: 'api',
          policyHash: 'sha384:aa',
          policyVersion: 1,
          clause: 'workloads[1].accept[0]',
        },
        tee: 'sim',
        insecure: true,
      },
      key,
    )

  const expectation = (over: Partial<ServiceTokenExpectation> = {}): ServiceTokenExpectation => ({
    issuer: ISSUER,
    jwks,
    namespace: 'health',
    policy: 'clinic',
    workload: 'api',
    measurement: MEASUREMENT,
    allowSim: true,
    ...over,
  })

  it('accepts a matching sim token and states its facts', async () => {
    const a = await appraiseServiceToken(await token(), expectation(), { now: NOW })
    assert.equal(a.ok, true)
    assert.ok(a.ok)
    assert.equal(a.facts.workload, 'health/clinic/api')
    assert.equal(a.facts.tee, 'sim')
    assert.equal(a.facts.insecure, true)
    assert.equal(a.facts.debug, false)
    assert.equal(a.facts.measurement, MEASUREMENT)
    assert.equal(a.facts.tcbStatus, undefined)
    assert.equal(a.facts.expiresAt.getTime(), NOW.getTime() + 600_000)
  })

  it('names the failed check, with the facts once the signature verified', async () => {
    const cases: [string, Promise<string> | string, ServiceTokenExpectation][] = [
      ['expectation', token(), expectation({ measurement: [] })],
      ['token', 'not a jwt', expectation()],
      ['issuer', token(), expectation({ issuer: 'https://other.test' })],
      ['signature', token({}, stranger), expectation()],
      ['expired', token({}, signing, new Date(NOW.getTime() - 3_600_000)), expectation()],
      ['workload', token(), expectation({ workload: 'diagnostics' })],
      ['policy', token(), expectation({ policyHash: 'sha384:bb' })],
      ['sim', token(), expectation({ allowSim: false })],
      ['debug', token({ debug: true }), expectation()],
      ['measurement', token(), expectation({ measurement: 'cd'.repeat(48) })],
      ['signer', token(), expectation({ signer: 'ef'.repeat(32) })],
      ['tcb', token({ tcbStatus: 'OutOfDate' }), expectation()],
    ]
    for (const [check, t, e] of cases) {
      const a = await appraiseServiceToken(await t, e, { now: NOW })
      assert.equal(a.ok, false, check)
      assert.ok(!a.ok)
      assert.equal(a.check, check)
      const verified = !['expectation', 'token', 'issuer', 'signature', 'expired'].includes(check)
      assert.equal(a.facts !== undefined, verified, `facts for ${check}`)
      if (check === 'debug') assert.equal(a.facts?.debug, true)
    }
  })
})
