import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { collateralFromDcapQvlJson, type DcapCollateral, verifyEvidence } from '@subrosa/attest'
import { toBase64 } from '@subrosa/core'
import { COLLATERAL_BUNDLE_FORMAT, intelBundleOf } from './bundle.ts'
import { certificatePem } from './der.ts'
import { createKdsClient } from './kds-client.ts'
import { createPcsClient } from './pcs-client.ts'
import { collateralSources, firstCollateralSource, onlineCollateralSources } from './sources.ts'
import {
  haveVectors,
  PCS_VECTORS,
  pcsRoutes,
  readVector,
  readVectorText,
  startServer,
} from './test-support.ts'

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

  it('fetches Intel collateral from a PCS only when no file has it', async (t) => {
    const quoteFile = 'go-tdx-guest/tdx_prod_quote_SPR_E4.dat'
    if (!haveVectors(t, quoteFile, ...PCS_VECTORS, ...TDX)) return
    const server = await startServer(pcsRoutes())
    try {
      const files = collateralSources([{ name: 'c.json', text: readVectorText(TDX[1] as string) }])
      const online = onlineCollateralSources({ pcs: createPcsClient({ baseUrl: server.url }) })
      const sources = firstCollateralSource(files, online)
      const quote = toBase64(readVector(quoteFile).subarray(0, 4935))
      await assert.rejects(
        verifyEvidence('tdx', { quote }, { now: new Date('2023-07-01T01:00:00Z'), ...sources }),
        (e: Error & { code?: string; details?: Record<string, unknown> }) =>
          e.code === 'ERR_ATTEST_TCB_NOT_SUPPORTED' && e.details?.signatures === 'valid',
      )
      assert.equal(server.hits.get('/tdx/certification/v4/tcb?fmspc=50806f000000'), 1)
      const before = server.total()
      await verifyEvidence(
        'tdx',
        { quote: toBase64(readVector(TDX[0] as string)) },
        { now: JULY_2025, ...sources },
      )
      assert.equal(server.total(), before, 'the file answered; the PCS was not asked')
    } finally {
      await server.close()
    }
  })

  it('fetches a VCEK from the KDS by chip and reported TCB, and fails closed without a CRL', async (t) => {
    if (!haveVectors(t, ...SNP)) return
    const report = readVector(SNP[0] as string)
    const chipId = Buffer.from(report.subarray(0x1a0, 0x1e0)).toString('hex')
    const server = await startServer(
      new Map([
        [
          `/vcek/v1/Milan/${chipId}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
          { body: readVector(SNP[1] as string) },
        ],
      ]),
    )
    try {
      const online = onlineCollateralSources({ kds: createKdsClient({ baseUrl: server.url }) })
      const vek = await online.amd?.vek?.({
        product: 'Milan',
        chipId,
        reportedTcb: Buffer.from(report.subarray(0x180, 0x188)).toString('hex'),
        signingKey: 'vcek',
      })
      assert.ok(vek instanceof Uint8Array && vek.length > 500)
      await assert.rejects(
        verifyEvidence(
          'snp',
          { report: toBase64(report) },
          { now: new Date('2025-06-01T00:00:00Z'), ...online },
        ),
        { code: 'ERR_SDK_RESPONSE' },
      )
    } finally {
      await server.close()
    }
  })
})
