// Verification paths the public vectors cannot reach (revocation, Turin, TCB and CHIP_ID
// mismatches), through a synthetic AMD-shaped PKI injected as roots: RSA-PSS ARK/ASK/ASVK, an
// ECDSA P-384 VEK with the KDS extensions, ARK-signed CRLs. Same code path as AMD's roots.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import type { SnpProduct } from './tcb.ts'
import {
  certificate,
  crl,
  p384Key,
  rsaKey,
  signReport,
  type VekSpec,
  vekExtensions,
} from './test-pki.ts'
import { verifySnpReport } from './verify-report.ts'

const NOT_BEFORE = new Date('2024-01-01T00:00:00Z')
const NOT_AFTER = new Date('2031-01-01T00:00:00Z')
const NOW = new Date('2026-01-01T00:00:00Z')
const ASK_SERIAL = 0x010001
const ASVK_SERIAL = 0x010101

function pki(product: SnpProduct) {
  const ark = rsaKey()
  const ask = rsaKey()
  const asvk = rsaKey()
  const validity = { notBefore: NOT_BEFORE, notAfter: NOT_AFTER }
  const arkName = `ARK-${product}`
  const arkDer = certificate({
    serial: 0x010000,
    issuer: arkName,
    issuerKey: ark,
    subject: arkName,
    subjectKey: ark.publicKey,
    ca: { crlSign: true },
    ...validity,
  })
  const askDer = certificate({
    serial: ASK_SERIAL,
    issuer: arkName,
    issuerKey: ark,
    subject: `SEV-${product}`,
    subjectKey: ask.publicKey,
    ca: { crlSign: false },
    ...validity,
  })
  const asvkDer = certificate({
    serial: ASVK_SERIAL,
    issuer: arkName,
    issuerKey: ark,
    subject: `SEV-VLEK-${product}`,
    subjectKey: asvk.publicKey,
    ca: { crlSign: false },
    ...validity,
  })
  const vek = p384Key()
  const issueVek = (
    spec: VekSpec,
    signer: 'ask' | 'asvk' = spec.cspId === undefined ? 'ask' : 'asvk',
  ) =>
    certificate({
      serial: 0,
      issuer: signer === 'ask' ? `SEV-${product}` : `SEV-VLEK-${product}`,
      issuerKey: signer === 'ask' ? ask : asvk,
      subject: spec.cspId === undefined ? 'SEV-VCEK' : 'SEV-VLEK',
      subjectKey: vek.publicKey,
      extensions: vekExtensions(spec),
      ...validity,
    })
  const crlOf = (revoked: number[], over: Partial<Parameters<typeof crl>[0]> = {}) =>
    crl({
      issuer: arkName,
      issuerKey: ark,
      thisUpdate: NOT_BEFORE,
      nextUpdate: NOT_AFTER,
      revoked,
      ...over,
    })
  return { roots: { [product]: { ark: arkDer, ask: askDer, asvk: asvkDer } }, vek, issueVek, crlOf }
}

type ReportSpec = {
  version?: number
  cpuid?: [number, number, number]
  tcb: number[]
  chipId?: Uint8Array
  signer?: number
}

function report(spec: ReportSpec, key: ReturnType<typeof p384Key>): Uint8Array {
  const b = new Uint8Array(0x4a0)
  const v = new DataView(b.buffer)
  v.setUint32(0x000, spec.version ?? 2, true)
  v.setBigUint64(0x008, 0x30000n, true)
  v.setUint32(0x034, 1, true)
  v.setUint32(0x048, spec.signer ?? 0, true)
  b.set(randomBytes(64), 0x050)
  b.set(randomBytes(48), 0x090)
  for (const offset of [0x038, 0x180, 0x1e0, 0x1f0]) b.set(spec.tcb, offset)
  if (spec.cpuid !== undefined) b.set(spec.cpuid, 0x188)
  if (spec.chipId !== undefined) b.set(spec.chipId, 0x1a0)
  return signReport(b, key.privateKey)
}

const MILAN_TCB = { bootloader: 3, tee: 0, snp: 8, microcode: 0xd9 }
const MILAN_RAW = [3, 0, 0, 0, 0, 0, 8, 0xd9]

describe('synthetic Milan PKI: revocation through the ARK-signed CRL', () => {
  const p = pki('Milan')
  const chipId = randomBytes(64)
  const vek = p.issueVek({ productName: 'Milan-B0', tcb: MILAN_TCB, hwId: chipId })
  const bytes = report({ tcb: MILAN_RAW, chipId }, p.vek)
  const verify = (options: { crl?: Uint8Array } = {}) =>
    verifySnpReport(bytes, { vek, now: NOW, roots: p.roots, ...options })

  it('verifies without a CRL (not-provided) and with a clean one (checked)', () => {
    assert.equal(verify().crl, 'not-provided')
    assert.equal(verify({ crl: p.crlOf([]) }).crl, 'checked')
    assert.equal(verify().claims.platformId, Buffer.from(chipId).toString('hex'))
  })

  it('a CRL listing the ASK: ERR_ATTEST_REVOKED', () => {
    assert.throws(() => verify({ crl: p.crlOf([0x42, ASK_SERIAL]) }), {
      code: 'ERR_ATTEST_REVOKED',
    })
  })

  it('an ARK CRL listing serial 0 does not revoke a VCEK (its issuer is the ASK)', () => {
    // AMD's KDS CRL is issued by the ARK and covers what the ARK issues: ASKs and ASVKs. VCEKs
    // all have serial 0 and are issued by the ASK, so the ARK's CRL cannot name one.
    assert.equal(verify({ crl: p.crlOf([0]) }).crl, 'checked')
  })

  it('a CRL not signed by the ARK, of another issuer, out of date, or garbled', () => {
    const forged = p.crlOf([], { issuerKey: rsaKey() })
    assert.throws(() => verify({ crl: forged }), { code: 'ERR_ATTEST_CRL' })
    const other = p.crlOf([], { issuer: 'ARK-Genoa' })
    assert.throws(() => verify({ crl: other }), { code: 'ERR_ATTEST_CRL' })
    const stale = p.crlOf([], { nextUpdate: new Date('2025-01-01T00:00:00Z') })
    assert.throws(() => verify({ crl: stale }), { code: 'ERR_ATTEST_COLLATERAL_EXPIRED' })
    assert.throws(() => verify({ crl: Uint8Array.of(0x30, 0x03, 1, 2, 3) }), {
      code: 'ERR_ATTEST_CRL',
    })
  })

  it('TCB and CHIP_ID must match the VCEK: ERR_ATTEST_TCB_MISMATCH', () => {
    for (const tcb of [
      { ...MILAN_TCB, snp: 9 },
      { ...MILAN_TCB, microcode: 0xd8 },
      { ...MILAN_TCB, bootloader: 2 },
      { ...MILAN_TCB, tee: 1 },
    ]) {
      const other = p.issueVek({ productName: 'Milan-B0', tcb, hwId: chipId })
      assert.throws(() => verifySnpReport(bytes, { vek: other, now: NOW, roots: p.roots }), {
        code: 'ERR_ATTEST_TCB_MISMATCH',
      })
    }
    const otherChip = p.issueVek({ productName: 'Milan-B0', tcb: MILAN_TCB, hwId: randomBytes(64) })
    assert.throws(() => verifySnpReport(bytes, { vek: otherChip, now: NOW, roots: p.roots }), {
      code: 'ERR_ATTEST_TCB_MISMATCH',
    })
    // MASK_CHIP_KEY: CHIP_ID is zero and not compared.
    const masked = report({ tcb: MILAN_RAW, signer: 0b010 }, p.vek)
    const verdict = verifySnpReport(masked, { vek, now: NOW, roots: p.roots })
    assert.equal(verdict.claims.platformId, undefined)
  })

  it('VLEK: through the ASVK only; signer info and certificate must agree', () => {
    const vlek = p.issueVek({ productName: 'Milan', tcb: MILAN_TCB, cspId: 'CN=csp.example' })
    const vlekReport = report({ tcb: MILAN_RAW, signer: 1 << 2 }, p.vek)
    assert.equal(
      verifySnpReport(vlekReport, { vek: vlek, now: NOW, roots: p.roots }).signingKey,
      'vlek',
    )
    const vlekByAsk = p.issueVek(
      { productName: 'Milan', tcb: MILAN_TCB, cspId: 'CN=csp.example' },
      'ask',
    )
    assert.throws(() => verifySnpReport(vlekReport, { vek: vlekByAsk, now: NOW, roots: p.roots }), {
      code: 'ERR_ATTEST_CHAIN',
    })
    // A VCEK-signed report with a VLEK certificate, and the reverse.
    assert.throws(() => verifySnpReport(bytes, { vek: vlek, now: NOW, roots: p.roots }), {
      code: 'ERR_ATTEST_CHAIN',
    })
    const vcekByAsvk = p.issueVek({ productName: 'Milan', tcb: MILAN_TCB, hwId: chipId }, 'asvk')
    assert.throws(
      () => verifySnpReport(vlekReport, { vek: vcekByAsvk, now: NOW, roots: p.roots }),
      {
        code: 'ERR_ATTEST_CHAIN',
      },
    )
  })

  it('an unsigned report (SIGNING_KEY none): ERR_ATTEST_SIGNATURE', () => {
    const none = report({ tcb: MILAN_RAW, chipId, signer: 7 << 2 }, p.vek)
    assert.throws(() => verifySnpReport(none, { vek, now: NOW, roots: p.roots }), {
      code: 'ERR_ATTEST_SIGNATURE',
    })
  })

  it('an unknown product needs the option', () => {
    const rome = p.issueVek({ productName: 'Rome-B0', tcb: MILAN_TCB, hwId: chipId })
    assert.throws(() => verifySnpReport(bytes, { vek: rome, now: NOW, roots: p.roots }), {
      code: 'ERR_ATTEST_UNSUPPORTED_TEE',
    })
    const verdict = verifySnpReport(bytes, {
      vek: rome,
      now: NOW,
      roots: p.roots,
      product: 'Milan',
    })
    assert.equal(verdict.product, 'Milan')
  })
})

describe('synthetic Turin PKI', () => {
  const p = pki('Turin')
  const chipId = randomBytes(64)
  const tcb = { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 0x5a }
  const raw = [1, 2, 3, 4, 0, 0, 0, 0x5a]

  it('v3 report, 8-byte hwID, fmcSPL: valid, TCB decoded for Turin', () => {
    const vek = p.issueVek({ productName: 'Turin-B0', tcb, hwId: chipId.subarray(0, 8) })
    const bytes = report({ version: 3, cpuid: [0x1a, 0x02, 0x01], tcb: raw, chipId }, p.vek)
    const verdict = verifySnpReport(bytes, { vek, now: NOW, roots: p.roots })
    assert.equal(verdict.product, 'Turin')
    assert.deepEqual(verdict.claims.reportedTcb, tcb)
    const wrongFmc = p.issueVek({
      productName: 'Turin-B0',
      tcb: { ...tcb, fmc: 2 },
      hwId: chipId.subarray(0, 8),
    })
    assert.throws(() => verifySnpReport(bytes, { vek: wrongFmc, now: NOW, roots: p.roots }), {
      code: 'ERR_ATTEST_TCB_MISMATCH',
    })
    // The pinned (real) Turin roots do not know this PKI.
    assert.throws(
      () => verifySnpReport(bytes, { vek, now: NOW }),
      (e: { code?: string }) =>
        e.code === 'ERR_ATTEST_CHAIN' || e.code === 'ERR_ATTEST_UNTRUSTED_ROOT',
    )
  })
})
