import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSimEvidence, generateSimPlatformKey } from '@subrosa/attest'
import { fromHex } from '@subrosa/core'
import { EXAMPLE_POLICY, SIM_V1 } from '../test/fixtures.ts'
import { appraiseEvidence } from './appraise.ts'
import { parsePolicy } from './policy.ts'

const NOW = new Date('2026-12-01T00:00:00Z')

describe('appraiseEvidence', () => {
  it('verifies, then evaluates: the decision with its clause, sim marked insecure', async () => {
    const platform = await generateSimPlatformKey()
    const statement = {
      measurement: fromHex(SIM_V1) as Uint8Array,
      reportData: new Uint8Array(64),
      debug: false,
      svn: 1,
    }
    const evidence = await createSimEvidence(statement, platform.privateJwk, NOW)
    const options = { now: NOW, sim: { trustedKeys: [platform.publicJwk] } }
    const policy = parsePolicy(EXAMPLE_POLICY)
    const allowed = await appraiseEvidence({
      tee: 'sim',
      evidence,
      options,
      policy,
      workload: 'taxi-job',
      allowSim: true,
    })
    assert.equal(allowed.verified, true)
    assert.equal(allowed.claims?.insecure, true)
    assert.equal(allowed.decision?.allow, true)
    const refused = await appraiseEvidence({
      tee: 'sim',
      evidence,
      options,
      policy,
      workload: 'taxi-job',
    })
    assert.equal(refused.decision?.allow, false)
    assert.equal(refused.decision?.clause, 'broker.allowSim')
    const plain = await appraiseEvidence({ tee: 'sim', evidence, options })
    assert.equal(plain.decision, undefined)
  })

  it('turns a verification failure into a report with the error code', async () => {
    const other = await generateSimPlatformKey()
    const report = await appraiseEvidence({
      tee: 'sim',
      evidence: 'not.a.jws',
      options: { now: NOW, sim: { trustedKeys: [other.publicJwk] } },
    })
    assert.equal(report.verified, false)
    assert.match(report.error?.code ?? '', /^ERR_ATTEST_/)
    const unsupported = await appraiseEvidence({ tee: 'tpm', evidence: {}, options: { now: NOW } })
    assert.equal(unsupported.error?.code, 'ERR_ATTEST_UNSUPPORTED_TEE')
  })
})
