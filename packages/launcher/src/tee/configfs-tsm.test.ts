// configfs-tsm evidence on a tree written by the test (playing the kernel), with real TDX quotes
// and SEV-SNP reports from ../shared/vectors as outblob.
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, it } from 'node:test'
import {
  collateralFromDcapQvlJson,
  parseQuote,
  parseSnpReport,
  verifyEvidence,
} from '@subrosa/attest'
import { fromBase64 } from '@subrosa/core'
import { type RuntimeData, reportDataFor } from '@subrosa/protocol'
import { exportJWK, generateKeyPair } from 'jose'
import { configfsTsmTee } from './configfs-tsm.ts'
import { SEV_CERT_GUIDS } from './sev-cert-table.ts'
import {
  buildSevCertTable,
  fakeConfigfsTsm,
  haveVectors,
  pemCertificates,
  readVector,
  readVectorText,
  tempDir,
} from './test-trees.ts'

const TDX_QUOTE = 'dcap-qvl/tdx_quote'
const TDX_COLLATERAL = 'dcap-qvl/tdx_quote_collateral.json'
const SNP_REPORT = 'go-sev-guest/attestation.bin'
const SNP_VCEK = 'go-sev-guest/vcek.testcer'
const SNP_CHAIN = 'go-sev-guest/ask_ark_milan.pem'

async function runtimeData(nonce: string): Promise<RuntimeData> {
  const { publicKey } = await generateKeyPair('ECDH-ES+A256KW')
  const { x, y } = await exportJWK(publicKey)
  return {
    nonce,
    'tee-pubkey': {
      kty: 'EC',
      crv: 'P-256',
      x: x as string,
      y: y as string,
      alg: 'ECDH-ES+A256KW',
    },
  }
}

function bytesOf(evidence: unknown, field: string): Uint8Array {
  const value = (evidence as Record<string, unknown>)[field]
  assert.equal(typeof value, 'string', `evidence.${field}`)
  const bytes = fromBase64(value as string)
  assert.ok(bytes !== undefined, `evidence.${field} is base64`)
  return bytes
}

describe('configfsTsmTee', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  beforeEach(async () => {
    tmp = await tempDir()
  })
  afterEach(() => tmp.dispose())

  it('TDX: writes reportDataFor(nonce, key) to inblob and returns the quote the broker verifies', async (t) => {
    if (!haveVectors(t, TDX_QUOTE, TDX_COLLATERAL)) return
    const quote = readVector(TDX_QUOTE)
    const tsm = await fakeConfigfsTsm(tmp.dir, { provider: 'tdx_guest', outblob: quote })
    const data = await runtimeData('nonce-tdx-1')
    const evidence = await configfsTsmTee({
      tee: 'tdx',
      root: tsm.root,
      files: tsm.files,
    }).evidence(reportDataFor(data))

    assert.equal(tsm.inblobs.length, 1)
    assert.deepEqual(tsm.inblobs[0], reportDataFor(data))
    assert.deepEqual(Object.keys(evidence as object), ['quote'])
    const returned = bytesOf(evidence, 'quote')
    assert.deepEqual(returned, quote)
    const parsed = parseQuote(returned)
    assert.equal(parsed.header.teeType, 'tdx')
    assert.equal(parsed.body.kind === 'sgx' ? -1 : parsed.body.report.reportData.length, 64)
    assert.equal(tsm.entries.length, 1)
    assert.match(tsm.entries[0] ?? '', /\/report\/subrosa-[0-9a-f]{16}$/)
    assert.deepEqual(await tsm.remaining(), [], 'the report entry is removed')

    // The wire form is the one the broker's verifier takes for tdx.
    const collateral = collateralFromDcapQvlJson(readVectorText(TDX_COLLATERAL))
    const verdict = await verifyEvidence('tdx', evidence, {
      now: new Date('2025-07-01T00:00:00Z'),
      intel: { collateral: async () => collateral },
    })
    assert.equal(verdict.claims.tee, 'tdx')
  })

  it('SEV-SNP: returns the report and the VCEK from the auxblob certificate table', async (t) => {
    if (!haveVectors(t, SNP_REPORT, SNP_VCEK, SNP_CHAIN)) return
    const report = readVector(SNP_REPORT)
    const vcek = readVector(SNP_VCEK)
    const [ask, ark] = pemCertificates(readVectorText(SNP_CHAIN)) as [Uint8Array, Uint8Array]
    const auxblob = buildSevCertTable([
      { guid: SEV_CERT_GUIDS.ark, der: ark },
      { guid: SEV_CERT_GUIDS.ask, der: ask },
      { guid: SEV_CERT_GUIDS.vcek, der: vcek },
    ])
    const tsm = await fakeConfigfsTsm(tmp.dir, { provider: 'sev_guest', outblob: report, auxblob })
    const data = await runtimeData('nonce-snp-1')
    const evidence = await configfsTsmTee({
      tee: 'snp',
      root: tsm.root,
      files: tsm.files,
    }).evidence(reportDataFor(data))

    assert.deepEqual(tsm.inblobs, [reportDataFor(data)])
    assert.deepEqual(Object.keys(evidence as object).sort(), ['report', 'vek'])
    assert.deepEqual(bytesOf(evidence, 'report'), report)
    assert.deepEqual(bytesOf(evidence, 'vek'), vcek)
    const parsed = parseSnpReport(bytesOf(evidence, 'report'))
    assert.equal(parsed.version, 2)
    assert.equal(parsed.signingKey, 'vcek')
    assert.equal(parsed.reportData.length, 64)
    assert.deepEqual(await tsm.remaining(), [])

    // The wire form is the one the broker's verifier takes for snp (VEK carried in the evidence).
    const verdict = await verifyEvidence('snp', evidence, {
      now: new Date('2022-09-24T01:00:00Z'),
    })
    assert.equal(verdict.claims.tee, 'snp')
    assert.equal(verdict.details.signingKey, 'vcek')
  })

  it('SEV-SNP without an auxblob: the report alone (the broker finds the VCEK)', async (t) => {
    if (!haveVectors(t, SNP_REPORT)) return
    const tsm = await fakeConfigfsTsm(tmp.dir, {
      provider: 'sev_guest',
      outblob: readVector(SNP_REPORT),
    })
    const evidence = await configfsTsmTee({
      tee: 'snp',
      root: tsm.root,
      files: tsm.files,
    }).evidence(new Uint8Array(64).fill(7))
    assert.deepEqual(Object.keys(evidence as object), ['report'])
  })

  it('retries on a fresh entry when another writer moved generation, then gives up', async (t) => {
    if (!haveVectors(t, TDX_QUOTE)) return
    const once = await fakeConfigfsTsm(tmp.dir, {
      provider: 'tdx_guest',
      outblob: readVector(TDX_QUOTE),
      raceOn: (n) => n === 0,
    })
    const reportData = new Uint8Array(64).fill(1)
    await configfsTsmTee({ tee: 'tdx', root: once.root, files: once.files }).evidence(reportData)
    assert.equal(once.entries.length, 2)
    assert.deepEqual(await once.remaining(), [])

    const always = await fakeConfigfsTsm(`${tmp.dir}/always`, {
      provider: 'tdx_guest',
      outblob: readVector(TDX_QUOTE),
      raceOn: () => true,
    })
    await assert.rejects(
      configfsTsmTee({ tee: 'tdx', root: always.root, files: always.files }).evidence(reportData),
      { code: 'ERR_LAUNCHER_TEE_REPORT' },
    )
    assert.equal(always.entries.length, 3)
    assert.deepEqual(await always.remaining(), [], 'every raced entry is removed')
  })

  it('refuses without a provider, with another provider, or without configfs-tsm', async () => {
    const none = await fakeConfigfsTsm(tmp.dir, { outblob: new Uint8Array(8) })
    await assert.rejects(
      configfsTsmTee({ tee: 'tdx', root: none.root, files: none.files }).evidence(
        new Uint8Array(64),
      ),
      { code: 'ERR_LAUNCHER_TEE_UNAVAILABLE' },
    )
    assert.deepEqual(none.inblobs, [], 'nothing is written without a provider')
    assert.deepEqual(await none.remaining(), [])

    const other = await fakeConfigfsTsm(`${tmp.dir}/other`, {
      provider: 'sev_guest',
      outblob: new Uint8Array(8),
    })
    await assert.rejects(
      configfsTsmTee({ tee: 'tdx', root: other.root, files: other.files }).evidence(
        new Uint8Array(64),
      ),
      { code: 'ERR_LAUNCHER_TEE_UNAVAILABLE' },
    )
    const unknown = await fakeConfigfsTsm(`${tmp.dir}/unknown`, {
      provider: 'arm_cca_guest',
      outblob: new Uint8Array(8),
    })
    await assert.rejects(
      configfsTsmTee({ tee: 'snp', root: unknown.root, files: unknown.files }).evidence(
        new Uint8Array(64),
      ),
      { code: 'ERR_LAUNCHER_TEE_UNAVAILABLE' },
    )
    await assert.rejects(
      configfsTsmTee({ tee: 'tdx', root: `${tmp.dir}/absent` }).evidence(new Uint8Array(64)),
      { code: 'ERR_LAUNCHER_TEE_UNAVAILABLE' },
    )
  })

  it('fails with a typed error on a kernel error, a wrong report, or report data of the wrong size', async (t) => {
    if (!haveVectors(t, TDX_QUOTE, SNP_REPORT)) return
    const eio = await fakeConfigfsTsm(tmp.dir, {
      provider: 'tdx_guest',
      outblob: readVector(TDX_QUOTE),
      failRead: 'outblob',
    })
    const tdx = configfsTsmTee({ tee: 'tdx', root: eio.root, files: eio.files })
    await assert.rejects(tdx.evidence(new Uint8Array(64)), { code: 'ERR_LAUNCHER_TEE_REPORT' })
    assert.deepEqual(await eio.remaining(), [])
    await assert.rejects(tdx.evidence(new Uint8Array(32)), { code: 'ERR_LAUNCHER_TEE_REPORT' })

    const swapped = await fakeConfigfsTsm(`${tmp.dir}/swapped`, {
      provider: 'tdx_guest',
      outblob: readVector(SNP_REPORT),
    })
    await assert.rejects(
      configfsTsmTee({ tee: 'tdx', root: swapped.root, files: swapped.files }).evidence(
        new Uint8Array(64),
      ),
      { code: 'ERR_LAUNCHER_TEE_REPORT' },
    )
    const bad = await fakeConfigfsTsm(`${tmp.dir}/bad`, {
      provider: 'sev_guest',
      outblob: readVector(SNP_REPORT).subarray(0, 1000),
    })
    await assert.rejects(
      configfsTsmTee({ tee: 'snp', root: bad.root, files: bad.files }).evidence(new Uint8Array(64)),
      { code: 'ERR_LAUNCHER_TEE_REPORT' },
    )
    const badAux = await fakeConfigfsTsm(`${tmp.dir}/aux`, {
      provider: 'sev_guest',
      outblob: readVector(SNP_REPORT),
      auxblob: new Uint8Array(30).fill(9),
    })
    await assert.rejects(
      configfsTsmTee({ tee: 'snp', root: badAux.root, files: badAux.files }).evidence(
        new Uint8Array(64),
      ),
      { code: 'ERR_LAUNCHER_TEE_REPORT' },
    )
  })
})
