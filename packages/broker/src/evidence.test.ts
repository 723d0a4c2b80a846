// Hardware evidence through the broker, on real published quotes (../shared/vectors, read in
// place): the dry-run endpoint and the KBS attest path.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { after, before, describe, it, type TestContext } from 'node:test'
import {
  collateralFromDcapQvlJson,
  type DcapCollateralRequest,
  parseDcapCollateral,
  verifyDcapQuote,
} from '@subrosa/attest'
import { fromHex, toBase64 } from '@subrosa/core'
import { generateOwnerKey, reportDataFor, signEarToken } from '@subrosa/protocol'
import { exportJWK, generateKeyPair, type JWK } from 'jose'
import type { BrokerContext } from './context.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { openKbsSession, sendEvidence } from './testing/kbs-session.ts'

const override = process.env.SUBROSA_VECTORS
const VECTORS = new URL(
  override === undefined
    ? '../../../../shared/vectors/'
    : `file://${override.replace(/\/?$/, '/')}`,
  import.meta.url,
)
const FILES = [
  'dcap-qvl/sgx_quote',
  'dcap-qvl/sgx_quote_collateral.json',
  'dcap-qvl/tdx_quote',
  'dcap-qvl/tdx_quote_collateral.json',
]
const present = FILES.every((f) => existsSync(new URL(f, VECTORS)))
const read = (f: string) => new Uint8Array(readFileSync(new URL(f, VECTORS)))
const JULY_2025 = new Date('2025-07-01T00:00:00Z')
const SGX_MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb'

function skipWithoutVectors(t: TestContext): boolean {
  if (present) return false
  t.skip(`vectors absent under ${VECTORS.pathname}: set SUBROSA_VECTORS`)
  return true
}

function intelFromFiles(): BrokerContext['verification'] {
  const parsed = ['sgx', 'tdx'].map((tee) =>
    parseDcapCollateral(
      collateralFromDcapQvlJson(
        Buffer.from(read(`dcap-qvl/${tee}_quote_collateral.json`)).toString(),
      ),
    ),
  )
  return {
    intel: {
      collateral: async (r: DcapCollateralRequest) =>
        parsed.find((p) => p.tcbInfo.fmspc === r.fmspc),
    },
  }
}

function policyYaml(owner: string, tcb: string, extra = ''): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: enclave, predecessor: null }
owners: { threshold: 1, keys: ["${owner}"] }
workloads:
  - name: job
    accept:
      - { tee: sgx, mrenclave: ["${SGX_MRENCLAVE}"], tcb: [${tcb}]${extra} }
`
}

const PASSPORT_ISSUER = 'https://verifier.test'

describe('hardware evidence at the broker', () => {
  let tb: TestBroker
  let verifierKey: JWK
  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    verifierKey = { ...(await exportJWK(pair.privateKey)), kid: 'verifier-1', alg: 'ES256' }
    const { d: _d, ...verifierPublic } = verifierKey
    tb = await startTestBroker({
      start: JULY_2025,
      allowSim: false,
      verification: {
        ...(present ? intelFromFiles() : {}),
        tokens: {
          issuers: [{ issuer: PASSPORT_ISSUER, kind: 'ear', jwks: { keys: [verifierPublic] } }],
        },
      },
    })
  })
  after(() => tb.close())

  it('dry-runs a real SGX quote against a stored policy, then a draft, and audits both', async (t) => {
    if (skipWithoutVectors(t)) return
    const applied = await tb.admin('POST', '/admin/v0/policies', {
      yaml: policyYaml(tb.owner.id, 'UpToDate'),
    })
    assert.equal(applied.statusCode, 201, applied.body)
    const evidence = { quote: toBase64(read('dcap-qvl/sgx_quote')) }
    const stored = await tb.admin('POST', '/admin/v0/dry-run', {
      tee: 'sgx',
      evidence,
      workload: 'job',
      policy: { namespace: 'acme', name: 'enclave' },
    })
    assert.equal(stored.statusCode, 200, stored.body)
    const denied = stored.json()
    assert.equal(denied.verified, true)
    assert.equal(denied.tcbStatus, 'ConfigurationAndSWHardeningNeeded')
    assert.equal(denied.decision.allow, false)
    assert.equal(denied.decision.clause, 'workloads[0].accept')
    assert.match(denied.decision.reasons[0], /^accept\[0\]: tcb: /)
    assert.equal(denied.policy.version, 1)

    const draft = policyYaml(
      tb.owner.id,
      'UpToDate, ConfigurationAndSWHardeningNeeded',
      ', allowAdvisories: [INTEL-SA-00289, INTEL-SA-00615]',
    )
    const allowed = (
      await tb.admin('POST', '/admin/v0/dry-run', {
        tee: 'sgx',
        evidence,
        workload: 'job',
        policy: { yaml: draft },
      })
    ).json()
    assert.equal(allowed.decision.allow, true, JSON.stringify(allowed.decision))
    assert.equal(allowed.decision.clause, 'workloads[0].accept[0]')
    assert.equal(allowed.policy.version, undefined)

    const audit = (await tb.admin('GET', '/admin/v0/audit')).json()
    const runs = audit.entries.filter((e: { kind: string }) => e.kind === 'policy.dry-run')
    assert.deepEqual(
      runs.map((e: { data: { decision: string } }) => e.data.decision),
      ['deny', 'allow'],
    )
    assert.equal(audit.verified, true)
    const releases = audit.entries.filter((e: { kind: string }) => e.kind !== 'policy.dry-run')
    assert.ok(releases.every((e: { kind: string }) => !/release|attestation/.test(e.kind)))
  })

  it('answers a verification failure with its code, and times it by `at`', async (t) => {
    if (skipWithoutVectors(t)) return
    const request = {
      tee: 'tdx',
      evidence: { quote: toBase64(read('dcap-qvl/tdx_quote')) },
      workload: 'job',
      policy: { namespace: 'acme', name: 'enclave' },
    }
    const late = (
      await tb.admin('POST', '/admin/v0/dry-run', { ...request, at: '2027-01-01T00:00:00Z' })
    ).json()
    assert.equal(late.verified, false)
    assert.match(late.error.code, /^ERR_ATTEST_/)
    assert.equal(late.decision, undefined)
    const now = (await tb.admin('POST', '/admin/v0/dry-run', request)).json()
    assert.equal(now.verified, true)
    assert.equal(now.tcbStatus, 'UpToDate')
    assert.equal(now.decision.allow, false, 'the clause is for sgx')
    const snp = (await tb.admin('POST', '/admin/v0/dry-run', { ...request, tee: 'snp' })).json()
    assert.equal(snp.error.code, 'ERR_ATTEST_MALFORMED')
  })

  it('refuses strangers, unknown policies and malformed requests', async (t) => {
    if (skipWithoutVectors(t)) return
    const stranger = await generateOwnerKey()
    const body = {
      tee: 'sgx',
      evidence: { quote: toBase64(read('dcap-qvl/sgx_quote')) },
      workload: 'job',
      policy: { namespace: 'acme', name: 'enclave' },
    }
    assert.equal((await tb.admin('POST', '/admin/v0/dry-run', body, stranger)).statusCode, 401)
    const missing = await tb.admin('POST', '/admin/v0/dry-run', {
      ...body,
      policy: { namespace: 'acme', name: 'nope' },
    })
    assert.equal(missing.statusCode, 404)
    const bad = await tb.admin('POST', '/admin/v0/dry-run', { ...body, extra: 1 })
    assert.equal(bad.statusCode, 400)
    assert.equal(bad.json().code, 'ERR_PROTOCOL_MALFORMED')
    const badYaml = await tb.admin('POST', '/admin/v0/dry-run', {
      ...body,
      policy: { yaml: 'a: [' },
    })
    assert.equal(badYaml.json().code, 'ERR_POLICY_YAML')
  })

  it('verifies a real quote at KBS attest and refuses it: it does not bind the nonce', async (t) => {
    if (skipWithoutVectors(t)) return
    const session = await openKbsSession(tb, 'sgx', 'acme/enclave/job')
    const res = await sendEvidence(tb, session, { quote: toBase64(read('dcap-qvl/sgx_quote')) })
    assert.equal(res.statusCode, 401, res.body)
    assert.equal(res.json().code, 'ERR_KBS_BINDING')
    const audit = (await tb.admin('GET', '/admin/v0/audit')).json()
    const last = audit.entries.filter((e: { kind: string }) => e.kind === 'attestation').at(-1)
    assert.equal(last.data.decision, 'deny')
    assert.equal(last.data.code, 'ERR_KBS_BINDING')
    assert.equal(last.data.measurement, SGX_MRENCLAVE)
    assert.equal(last.data.insecure, false)
  })

  it('uses collateral sent with the request instead of its own, and reports bad collateral', async (t) => {
    if (skipWithoutVectors(t)) return
    const bare = await startTestBroker({ start: JULY_2025, allowSim: false })
    try {
      const c = collateralFromDcapQvlJson(
        Buffer.from(read('dcap-qvl/sgx_quote_collateral.json')).toString(),
      )
      const wire = {
        tcbInfo: c.tcbInfo,
        tcbInfoSignature: c.tcbInfoSignature,
        tcbInfoIssuerChain: c.tcbInfoIssuerChain,
        qeIdentity: c.qeIdentity,
        qeIdentitySignature: c.qeIdentitySignature,
        qeIdentityIssuerChain: c.qeIdentityIssuerChain,
        pckCrl: toBase64(c.pckCrl as Uint8Array),
        pckCrlIssuerChain: c.pckCrlIssuerChain as string,
        rootCaCrl: toBase64(c.rootCaCrl as Uint8Array),
      }
      const body = {
        tee: 'sgx',
        evidence: { quote: toBase64(read('dcap-qvl/sgx_quote')) },
        workload: 'job',
        policy: {
          yaml: policyYaml(
            bare.owner.id,
            'ConfigurationAndSWHardeningNeeded',
            ', allowAdvisories: ["*"]',
          ),
        },
      }
      const without = (await bare.admin('POST', '/admin/v0/dry-run', body)).json()
      assert.equal(without.error.code, 'ERR_ATTEST_UNSUPPORTED_TEE')
      const sent = await bare.admin('POST', '/admin/v0/dry-run', {
        ...body,
        collateral: { intel: wire },
      })
      assert.equal(sent.statusCode, 200, sent.body)
      assert.equal(sent.json().decision.allow, true, sent.body)
      const flipped = fromHex(wire.tcbInfoSignature) as Uint8Array
      flipped[0] = (flipped[0] as number) ^ 1
      const forged = (
        await bare.admin('POST', '/admin/v0/dry-run', {
          ...body,
          collateral: {
            intel: { ...wire, tcbInfoSignature: Buffer.from(flipped).toString('hex') },
          },
        })
      ).json()
      assert.equal(forged.verified, false)
      assert.equal(forged.error.code, 'ERR_ATTEST_COLLATERAL_SIGNATURE')
      const noCrl = (
        await bare.admin('POST', '/admin/v0/dry-run', {
          ...body,
          collateral: { intel: { ...wire, pckCrl: undefined, rootCaCrl: undefined } },
        })
      ).json()
      assert.equal(noCrl.verified, false, 'CRLs are required by default')
      const garbage = (
        await bare.admin('POST', '/admin/v0/dry-run', {
          ...body,
          collateral: { intel: { ...wire, rootCaCrl: '***' } },
        })
      ).json()
      assert.equal(garbage.error.code, 'ERR_ATTEST_COLLATERAL')
    } finally {
      await bare.close()
    }
  })

  it('accepts a passport: another verifier’s EAR token for a real quote, bound to this session', async (t) => {
    if (skipWithoutVectors(t)) return
    const applied = await tb.admin('POST', '/admin/v0/policies', {
      yaml: `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: passport, predecessor: null }
owners: { threshold: 1, keys: ["${tb.owner.id}"] }
workloads:
  - name: job
    accept:
      - { tee: sgx, mrenclave: ["${SGX_MRENCLAVE}"], tcb: [UpToDate] }
      - { tee: sgx, issuer: "${PASSPORT_ISSUER}", mrenclave: ["${SGX_MRENCLAVE}"], tcb: [ConfigurationAndSWHardeningNeeded], allowAdvisories: ["*"] }
`,
    })
    assert.equal(applied.statusCode, 201, applied.body)
    const collateral = parseDcapCollateral(
      collateralFromDcapQvlJson(Buffer.from(read('dcap-qvl/sgx_quote_collateral.json')).toString()),
    )
    const { claims } = verifyDcapQuote(read('dcap-qvl/sgx_quote'), { collateral, now: JULY_2025 })
    const { source: _source, ...annotated } = claims

    const passport = async (bind: boolean) => {
      const session = await openKbsSession(tb, 'token', 'acme/passport/job')
      const { runtimeData } = session
      const token = await signEarToken(
        {
          issuer: PASSPORT_ISSUER,
          now: JULY_2025,
          ttlSeconds: 600,
          jti: 'passport-1',
          nonce: runtimeData.nonce,
          build: 'other-verifier',
          status: 'affirming',
          trustVector: { hardware: 2 },
          annotatedEvidence: {
            ...annotated,
            reportData: bind
              ? Buffer.from(reportDataFor(runtimeData)).toString('hex')
              : claims.reportData,
          },
          teePublicKey: runtimeData['tee-pubkey'],
          workload: {
            namespace: 'x',
            policy: 'y',
            workload: 'z',
            policyHash: 'sha384:0',
            policyVersion: 1,
            clause: 'c',
          },
          tee: 'sgx',
          insecure: false,
        },
        verifierKey,
      )
      return sendEvidence(tb, session, { token })
    }
    const bound = await passport(true)
    assert.equal(bound.statusCode, 200, bound.body)
    const audit = (await tb.admin('GET', '/admin/v0/audit')).json()
    const last = audit.entries.filter((e: { kind: string }) => e.kind === 'attestation').at(-1)
    assert.equal(last.data.decision, 'allow')
    assert.equal(last.data.clause, 'workloads[0].accept[1]')
    assert.equal(last.data.tee, 'token')
    const unbound = await passport(false)
    assert.equal(unbound.json().code, 'ERR_KBS_BINDING')
  })
})
