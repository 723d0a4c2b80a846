/*
 * DCAP reference outcomes on the shared vectors (../shared/vectors, read in place; see
 * ../shared/vectors/SOURCES.md). Each vector, its fixed time, and the expected verdict:
 *
 * - dcap-qvl sgx_quote (SGX v3, FMSPC 00A067110000) + sgx_quote_collateral.json
 *   at 2025-07-01T00:00:00Z → ConfigurationAndSWHardeningNeeded, [INTEL-SA-00289, INTEL-SA-00615].
 * - dcap-qvl tdx_quote (TDX v4, 70 zero bytes of padding) + tdx_quote_collateral.json
 *   at 2025-07-01T00:00:00Z → UpToDate (module TDX_01 isvsvn 6).
 * - dcap-qvl tdx_quote_outdated (TDX v5, TD 1.5) + its collateral at 2026-03-01T00:00:00Z →
 *   ERR_ATTEST_TCB_NOT_SUPPORTED (PCK comp08 3 < 5 in every level), signatures valid.
 * - go-tdx-guest tdx_prod_quote_SPR_E4.dat (TDX v4; first 4935 bytes: the file appends the text
 *   "extra bytes(only for testing purpose)", which parseQuote refuses as non-zero trailing
 *   bytes) + sample_tcbInfo_response + sample_qeIdentity_response + pckcrl + rootcrl.der, issuer
 *   chains rebuilt from automata signing.der (old TCB Signing cert) + root and the PCK Platform
 *   CA of dcap-qvl tdx collateral + root, at 2023-07-01T01:00:00Z → chains, CRLs and signatures
 *   valid, ERR_ATTEST_TCB_NOT_SUPPORTED (PCK comps [3,3,2,2,2,1,0,2] below the only level).
 * - go-tdx-guest quote_v5_sample.dat + dcap-qvl tdx_quote_outdated_collateral.json at
 *   2026-03-01T00:00:00Z → UpToDate (module TDX_01 isvsvn 11).
 * - trustee tdx_quote_6.dat + tcbInfo.json + enclaveIdentity.json, issuer chain = the renewed
 *   TCB Signing cert of the dcap-qvl 2026 collateral + root, at 2025-11-01T00:00:00Z with
 *   crls 'not-provided' (no CRL of that date exists) → OutOfDate (PCESVN 11 < 13; TDX_03 svn 5).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { vectorBytes } from '../x509/test-vectors.ts'
import { parseQuote } from './quote.ts'
import { dcapVector, GO_V4_QUOTE_LENGTH } from './test-fixtures.ts'
import { verifyDcapQuote } from './verify-quote.ts'

describe('DCAP reference outcomes', () => {
  it('dcap-qvl SGX v3 → ConfigurationAndSWHardeningNeeded with two advisories', (t) => {
    const v = dcapVector(t, 'sgx')
    if (v === undefined) return
    const verdict = verifyDcapQuote(v.quote, { collateral: v.collateral, now: v.now })
    assert.equal(verdict.tcbStatus, 'ConfigurationAndSWHardeningNeeded')
    assert.deepEqual(verdict.advisoryIds, ['INTEL-SA-00289', 'INTEL-SA-00615'])
    assert.equal(verdict.qeStatus, 'UpToDate')
    assert.equal(verdict.fmspc, '00a067110000')
    assert.equal(verdict.crls, 'checked')
    assert.equal(verdict.trailingBytes, 0)
    assert.equal(verdict.collateralExpires.toISOString(), '2025-07-19T10:01:18.000Z')
    const { claims } = verdict
    assert.equal(claims.tee, 'sgx')
    assert.equal(claims.insecure, false)
    assert.equal(claims.debug, false)
    assert.equal(claims.quoteVersion, 3)
    assert.equal(claims.pceSvn, 13)
    assert.equal(claims.reportData?.length, 128)
    assert.deepEqual(claims.source, { kind: 'evidence' })
    if (claims.tee === 'sgx') assert.equal(claims.mrenclave.length, 64)
  })

  it('dcap-qvl TDX v4 → UpToDate, padding reported', (t) => {
    const v = dcapVector(t, 'tdx')
    if (v === undefined) return
    const verdict = verifyDcapQuote(v.quote, { collateral: v.collateral, now: v.now })
    assert.equal(verdict.tcbStatus, 'UpToDate')
    assert.deepEqual(verdict.advisoryIds, [])
    assert.equal(verdict.trailingBytes, 70)
    assert.equal(verdict.fmspc, 'b0c06f000000')
    assert.equal(verdict.claims.tee, 'tdx')
    if (verdict.claims.tee === 'tdx') {
      assert.deepEqual(verdict.claims.tdxModule, { major: 1, svn: 6, identity: 'TDX_01' })
      assert.equal(verdict.claims.mrtd.length, 96)
      assert.equal(verdict.claims.debug, false)
    }
  })

  it('dcap-qvl TDX v5 "outdated" → TCB not supported, signatures valid', (t) => {
    const v = dcapVector(t, 'outdated')
    if (v === undefined) return
    assert.equal(parseQuote(v.quote).body.kind, 'td15')
    assert.throws(() => verifyDcapQuote(v.quote, { collateral: v.collateral, now: v.now }), {
      code: 'ERR_ATTEST_TCB_NOT_SUPPORTED',
      details: {
        stage: 'platform',
        signatures: 'valid',
        fmspc: '90c06f000000',
        tcbEvaluationDataNumber: 18,
      },
    })
  })

  it('go-tdx-guest v4 with its 2023 collateral → TCB not supported, everything else valid', (t) => {
    const v = dcapVector(t, 'goV4')
    if (v === undefined) return
    assert.throws(() => verifyDcapQuote(v.quote, { collateral: v.collateral, now: v.now }), {
      code: 'ERR_ATTEST_TCB_NOT_SUPPORTED',
      details: {
        stage: 'platform',
        signatures: 'valid',
        fmspc: '50806f000000',
        tcbEvaluationDataNumber: 15,
      },
    })
    // The whole file carries non-zero bytes after the quote: refused by the parser.
    const file = vectorBytes('go-tdx-guest/tdx_prod_quote_SPR_E4.dat')
    assert.ok(file.length > GO_V4_QUOTE_LENGTH)
    assert.throws(() => parseQuote(file), {
      code: 'ERR_ATTEST_MALFORMED',
      details: { field: 'trailingBytes' },
    })
  })

  it('go-tdx-guest v5 with the dcap-qvl 2026 collateral → UpToDate (TDX_01 svn 11)', (t) => {
    const v = dcapVector(t, 'goV5')
    if (v === undefined) return
    const verdict = verifyDcapQuote(v.quote, { collateral: v.collateral, now: v.now })
    assert.equal(verdict.tcbStatus, 'UpToDate')
    assert.equal(verdict.platformStatus, 'UpToDate')
    assert.equal(verdict.tcbEvaluationDataNumber, 18)
    if (verdict.claims.tee === 'tdx') {
      assert.deepEqual(verdict.claims.tdxModule, { major: 1, svn: 11, identity: 'TDX_01' })
      assert.equal(verdict.claims.quoteVersion, 5)
      assert.equal(verdict.claims.mrservicetd?.length, 96)
    } else assert.fail('expected TDX claims')
  })

  it('trustee tdx_quote_6 without CRLs → OutOfDate, CRLs reported as not provided', (t) => {
    const v = dcapVector(t, 'trustee6')
    if (v === undefined) return
    assert.throws(() => verifyDcapQuote(v.quote, { collateral: v.collateral, now: v.now }), {
      code: 'ERR_ATTEST_COLLATERAL',
    })
    const verdict = verifyDcapQuote(v.quote, {
      collateral: v.collateral,
      now: v.now,
      crls: 'not-provided',
    })
    assert.equal(verdict.tcbStatus, 'OutOfDate')
    assert.equal(verdict.crls, 'not-provided')
    assert.equal(verdict.trailingBytes, 70)
    if (verdict.claims.tee === 'tdx') {
      assert.deepEqual(verdict.claims.tdxModule, { major: 3, svn: 5, identity: 'TDX_03' })
    }
  })
})
