import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { collateralFromDcapQvlJson, type DcapCollateral, verifyEvidence } from '@subrosa/attest'
import { toBase64 } from '@subrosa/core'
import { COLLATERAL_BUNDLE_FORMAT, intelBundleOf } from './bundle.ts'
import { certificatePem } from './der.ts'
import { collateralSources } from './sources.ts'
import { haveVectors, readVector, readVectorText } from './test-support.ts'

const TDX = ['dcap-qvl/tdx_quote', 'dcap-qvl/tdx_quote_collateral.json']
const SNP = ['trustee/test-report.bin', 'trustee/test-vcek.der', 'go-sev-guest/ask_ark_milan.pem']
const JULY_2025 = new Date('2025-07-01T00:00:00Z')

function bundleText(): string {
  const intel = collateralFromDcapQvlJson(readVectorText(TDX[1] as string))
  return JSON.stringify({
    format: COLLATERAL_BUNDLE_FORMAT,
    intel: intelBundleOf('b0c06f000000', intel as Required<DcapCollateral>),
    amd: {
      product: 'Milan',
      vek: certificatePem(readVector(SNP[1] as string)),
      chain: readVectorText(SNP[2] as string),
    },
    fetchedAt: '2025-06-01T00:00:00Z',
  })
}

describe('collateralSources', () => {
  it('looks Intel collateral up by TEE and FMSPC, and a VCEK by chip', async (t) => {
    if (!haveVectors(t, ...TDX, ...SNP)) return
    const sources = collateralSources([{ name: 'b.json', text: bundleText() }])
    const request = { tee: 'tdx', fmspc: 'b0c06f000000', pceId: '0000', ca: 'platform' } as const
    assert.ok(await sources.intel?.collateral(request))
    assert.equal(await sources.intel?.collateral({ ...request, tee: 'sgx' }), undefined)
    assert.equal(await sources.intel?.collateral({ ...request, fmspc: '00a067110000' }), undefined)

    const tdx = await verifyEvidence(
      'tdx',
      { quote: toBase64(readVector(TDX[0] as string)) },
      { now: JULY_2025, ...sources },
    )
    assert.equal(tdx.claims.tcbStatus, 'UpToDate')
    assert.equal(tdx.details.crls, 'checked')

    const snp = await verifyEvidence(
      'snp',
      { report: toBase64(readVector(SNP[0] as string)) },
      { now: new Date('2025-06-01T00:00:00Z'), ...sources },
    )
    assert.equal(snp.claims.tee, 'snp')
    assert.equal(snp.details.signingKey, 'vcek')
  })

  it('reads dcap-qvl collateral JSON as it is published', async (t) => {
    if (!haveVectors(t, ...TDX)) return
    const sources = collateralSources([{ name: 'c.json', text: readVectorText(TDX[1] as string) }])
    const verdict = await verifyEvidence(
      'tdx',
      { quote: toBase64(readVector(TDX[0] as string)) },
      { now: JULY_2025, ...sources },
    )
    assert.equal(verdict.claims.tee, 'tdx')
    assert.equal(sources.amd, undefined)
  })

  it('names the file it cannot use', () => {
    for (const text of ['not json', '{"format":"other"}', '{"format":"subrosa-collateral/v1"}']) {
      assert.throws(
        () => collateralSources([{ name: 'bad.json', text }]),
        (e: Error & { code?: string; details?: { file?: string } }) =>
          e.code === 'ERR_SDK_CONFIG' &&
          e.details?.file === 'bad.json' &&
          /bad\.json/.test(e.message),
      )
    }
  })
})
