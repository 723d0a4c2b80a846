// Tampering with every real quote: each single-byte change of the signed header ‖ body, bytes of
// the QE report and of the QE auth data, a swapped root, time past the collateral, re-serialized
// collateral JSON, wrong report data, and collateral of another platform.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { parseCertificate } from '../x509/certificate.ts'
import { testPki } from '../x509/test-ca.ts'
import { parseQuote } from './quote.ts'
import { type DcapVector, dcapVector, type VectorName } from './test-fixtures.ts'
import { parseDcapCollateral } from './verify-collateral.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const NAMES: readonly VectorName[] = ['sgx', 'tdx', 'outdated', 'goV4', 'goV5', 'trustee6']
// Bytes whose change makes the quote unparseable: version, key type, tee type, v5 body descriptor.
const STRUCTURAL = new Set([0, 1, 2, 3, 4, 5, 6, 7])
const V5_DESCRIPTOR = new Set([48, 49, 50, 51, 52, 53])

const parsedCache = new WeakMap<DcapVector, ReturnType<typeof parseDcapCollateral>>()

/** Verifies with the vector's collateral parsed once (as a verifier service would). */
function verify(v: DcapVector, quote: Uint8Array, extra: object = {}) {
  const parsed = parsedCache.get(v) ?? parseDcapCollateral(v.collateral)
  parsedCache.set(v, parsed)
  return verifyDcapQuote(quote, {
    collateral: parsed,
    now: v.now,
    ...(v.crls === undefined ? {} : { crls: v.crls }),
    ...extra,
  })
}

function codeOf(f: () => unknown): string {
  try {
    f()
    return 'OK'
  } catch (error) {
    return (error as { code?: string }).code ?? String(error)
  }
}

/** The verdict code of an untampered vector (OK or its expected TCB_NOT_SUPPORTED). */
function baseline(v: DcapVector): string {
  return codeOf(() => verify(v, v.quote))
}

function flipped(bytes: Uint8Array, offset: number, mask: number): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy[offset] = (copy[offset] as number) ^ mask
  return copy
}

function each(name: string, body: (v: DcapVector, t: TestContext) => void): void {
  for (const vector of NAMES) {
    it(`${name}: ${vector}`, (t) => {
      const v = dcapVector(t, vector)
      if (v !== undefined) body(v, t)
    })
  }
}

describe('DCAP tamper tests', () => {
  each('every byte of header ‖ body, two masks', (v) => {
    const quote = parseQuote(v.quote)
    const v5 = quote.header.version === 5
    for (const mask of [0x01, 0x80]) {
      for (let i = 0; i < quote.signedBytes.length; i++) {
        const code = codeOf(() => verify(v, flipped(v.quote, i, mask)))
        if (STRUCTURAL.has(i) || (v5 && V5_DESCRIPTOR.has(i))) {
          assert.ok(
            ['ERR_ATTEST_MALFORMED', 'ERR_ATTEST_UNSUPPORTED_TEE'].includes(code),
            `offset ${i}: ${code}`,
          )
        } else {
          assert.equal(code, 'ERR_ATTEST_SIGNATURE', `offset ${i} mask ${mask}`)
        }
      }
    }
  })

  each('QE report bytes', (v) => {
    const quote = parseQuote(v.quote)
    const start = quote.qeReport.bytes.byteOffset
    const offsets = [0, 1, 16, 48, 64, 128, 256, 258, 320, 351, 352, 383]
    for (let i = 0; i < 20; i++) offsets.push((i * 97 + 13) % 384)
    for (const i of offsets) {
      assert.equal(
        codeOf(() => verify(v, flipped(v.quote, start + i, 0x04))),
        'ERR_ATTEST_SIGNATURE',
        `QE report ${i}`,
      )
    }
  })

  each('QE auth data bytes', (v) => {
    const quote = parseQuote(v.quote)
    const start = quote.qeAuthData.byteOffset
    for (let i = 0; i < quote.qeAuthData.length; i++) {
      assert.equal(
        codeOf(() => verify(v, flipped(v.quote, start + i, 0x10))),
        'ERR_ATTEST_QE_BINDING',
        `auth ${i}`,
      )
    }
  })

  each('a swapped root', (v) => {
    const other = parseCertificate(testPki().root)
    assert.throws(() => verify(v, v.quote, { roots: [other] }), {
      code: 'ERR_ATTEST_UNTRUSTED_ROOT',
    })
  })

  each('time outside the collateral windows', (v) => {
    const parsed = parseDcapCollateral(v.collateral)
    const ends = [parsed.tcbInfo.nextUpdate, parsed.qeIdentity.nextUpdate]
    const starts = [parsed.tcbInfo.issueDate, parsed.qeIdentity.issueDate]
    if (parsed.crls !== undefined) {
      ends.push(parsed.crls.pck.nextUpdate as Date, parsed.crls.root.nextUpdate as Date)
      starts.push(parsed.crls.pck.thisUpdate, parsed.crls.root.thisUpdate)
    }
    const after = new Date(Math.min(...ends.map((d) => d.getTime())) + 1000)
    const before = new Date(Math.max(...starts.map((d) => d.getTime())) - 1000)
    assert.throws(() => verify(v, v.quote, { now: after }), {
      code: 'ERR_ATTEST_COLLATERAL_EXPIRED',
    })
    assert.throws(() => verify(v, v.quote, { now: before }), {
      code: 'ERR_ATTEST_COLLATERAL_EXPIRED',
    })
    // The windows are inclusive: one second inside both ends gives the baseline verdict.
    const base = baseline(v)
    assert.equal(
      codeOf(() => verify(v, v.quote, { now: new Date(after.getTime() - 2000) })),
      base,
    )
    assert.equal(
      codeOf(() => verify(v, v.quote, { now: new Date(before.getTime() + 2000) })),
      base,
    )
  })

  each('re-serialized collateral JSON', (v) => {
    const base = baseline(v)
    const tcb = v.collateral.tcbInfo
    const qe = v.collateral.qeIdentity
    // JSON.stringify(JSON.parse(raw)) is byte-identical for compact PCS output: still valid.
    if (JSON.stringify(JSON.parse(tcb)) === tcb) {
      const same = { ...v.collateral, tcbInfo: JSON.stringify(JSON.parse(tcb)) }
      assert.equal(
        codeOf(() => verify(v, v.quote, { collateral: same })),
        base,
      )
    }
    for (const variant of [
      { tcbInfo: JSON.stringify(JSON.parse(tcb), null, 2) },
      { tcbInfo: ` ${tcb}` },
      { qeIdentity: JSON.stringify(JSON.parse(qe), null, 1) },
      { qeIdentity: JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(qe)).reverse())) },
    ]) {
      assert.throws(() => verify(v, v.quote, { collateral: { ...v.collateral, ...variant } }), {
        code: 'ERR_ATTEST_COLLATERAL_SIGNATURE',
      })
    }
  })

  each('wrong expected report data', (v) => {
    const quote = parseQuote(v.quote)
    const actual = quote.body.report.reportData
    assert.equal(
      codeOf(() => verify(v, v.quote, { expectedReportData: actual })),
      baseline(v),
    )
    assert.throws(() => verify(v, v.quote, { expectedReportData: flipped(actual, 63, 1) }), {
      code: 'ERR_ATTEST_REPORT_DATA',
    })
    assert.throws(() => verify(v, v.quote, { expectedReportData: new Uint8Array(65) }), {
      code: 'ERR_ATTEST_REPORT_DATA',
    })
  })
})

describe('DCAP collateral of another platform', () => {
  it('SGX collateral for a TDX quote, TDX collateral for an SGX quote, another FMSPC', (t) => {
    const sgx = dcapVector(t, 'sgx')
    const tdx = dcapVector(t, 'tdx')
    const goV5 = dcapVector(t, 'goV5')
    if (sgx === undefined || tdx === undefined || goV5 === undefined) return
    assert.throws(() => verify(tdx, tdx.quote, { collateral: sgx.collateral }), {
      code: 'ERR_ATTEST_COLLATERAL',
    })
    assert.throws(() => verify(sgx, sgx.quote, { collateral: tdx.collateral }), {
      code: 'ERR_ATTEST_COLLATERAL',
    })
    assert.throws(() => verify(goV5, goV5.quote, { collateral: tdx.collateral }), {
      code: 'ERR_ATTEST_COLLATERAL',
      details: { field: 'tcbInfo.fmspc' },
    })
    // The PCK CRL of the other CA (processor vs platform) is refused, not silently skipped.
    const mixed = {
      ...tdx.collateral,
      pckCrl: sgx.collateral.pckCrl,
      pckCrlIssuerChain: sgx.collateral.pckCrlIssuerChain,
    }
    assert.throws(() => verify(tdx, tdx.quote, { collateral: mixed }), {
      code: 'ERR_ATTEST_COLLATERAL',
      details: { field: 'pckCrl' },
    })
  })
})
