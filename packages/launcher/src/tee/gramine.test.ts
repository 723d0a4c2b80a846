// Gramine's /dev/attestation on a tree written by the test, with a real SGX quote.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import { collateralFromDcapQvlJson, parseQuote, verifyEvidence } from '@subrosa/attest'
import { fromBase64 } from '@subrosa/core'
import { reportDataFor } from '@subrosa/protocol'
import { gramineTee } from './gramine.ts'
import { fakeGramine, haveVectors, readVector, readVectorText, tempDir } from './test-trees.ts'

const SGX_QUOTE = 'dcap-qvl/sgx_quote'
const SGX_COLLATERAL = 'dcap-qvl/sgx_quote_collateral.json'
const TDX_QUOTE = 'dcap-qvl/tdx_quote'

const RUNTIME_DATA = {
  nonce: 'nonce-sgx-1',
  'tee-pubkey': {
    kty: 'EC',
    crv: 'P-256',
    x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
    y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    alg: 'ECDH-ES+A256KW',
  },
} as const

describe('gramineTee', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  beforeEach(async () => {
    tmp = await tempDir()
  })
  afterEach(() => tmp.dispose())

  it('writes reportDataFor(nonce, key) to user_report_data and returns the SGX quote', async (t) => {
    if (!haveVectors(t, SGX_QUOTE, SGX_COLLATERAL)) return
    const quote = readVector(SGX_QUOTE)
    const gramine = await fakeGramine(tmp.dir, { attestationType: 'dcap\n', quote })
    const evidence = await gramineTee({ root: gramine.root, files: gramine.files }).evidence(
      reportDataFor(RUNTIME_DATA),
    )
    assert.deepEqual(gramine.written, [reportDataFor(RUNTIME_DATA)])
    assert.deepEqual(Object.keys(evidence as object), ['quote'])
    const returned = fromBase64((evidence as { quote: string }).quote)
    assert.deepEqual(returned, quote)
    const parsed = parseQuote(returned as Uint8Array)
    assert.equal(parsed.header.teeType, 'sgx')
    assert.equal(parsed.body.kind, 'sgx')

    const collateral = collateralFromDcapQvlJson(readVectorText(SGX_COLLATERAL))
    const verdict = await verifyEvidence('sgx', evidence, {
      now: new Date('2025-07-01T00:00:00Z'),
      intel: { collateral: async () => collateral },
    })
    assert.equal(verdict.claims.tee, 'sgx')
  })

  it('refuses outside Gramine and without DCAP, before writing anything', async () => {
    await assert.rejects(gramineTee({ root: `${tmp.dir}/absent` }).evidence(new Uint8Array(64)), {
      code: 'ERR_LAUNCHER_TEE_UNAVAILABLE',
    })
    const epid = await fakeGramine(tmp.dir, { attestationType: 'epid', quote: new Uint8Array(8) })
    await assert.rejects(
      gramineTee({ root: epid.root, files: epid.files }).evidence(new Uint8Array(64)),
      { code: 'ERR_LAUNCHER_TEE_UNAVAILABLE' },
    )
    assert.deepEqual(epid.written, [])
  })

  it('refuses a TDX quote, garbage, and report data of the wrong size', async (t) => {
    if (!haveVectors(t, TDX_QUOTE)) return
    const tdx = await fakeGramine(tmp.dir, {
      attestationType: 'dcap',
      quote: readVector(TDX_QUOTE),
    })
    const tee = gramineTee({ root: tdx.root, files: tdx.files })
    await assert.rejects(tee.evidence(new Uint8Array(64)), { code: 'ERR_LAUNCHER_TEE_REPORT' })
    await assert.rejects(tee.evidence(new Uint8Array(63)), { code: 'ERR_LAUNCHER_TEE_REPORT' })
    const junk = await fakeGramine(`${tmp.dir}/junk`, {
      attestationType: 'dcap',
      quote: new Uint8Array(100).fill(3),
    })
    await assert.rejects(
      gramineTee({ root: junk.root, files: junk.files }).evidence(new Uint8Array(64)),
      { code: 'ERR_LAUNCHER_TEE_REPORT' },
    )
  })
})
