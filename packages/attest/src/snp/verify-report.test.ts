import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AMD_ROOTS } from './amd-roots.ts'
import {
  haveVectors,
  readGenoaEvidence,
  readHexVector,
  readVector,
  readVectorText,
} from './test-vectors.ts'
import { verifySnpReport } from './verify-report.ts'

const JUNE_2025 = new Date('2025-06-01T00:00:00Z')
const pems = (name: string) =>
  readVectorText(name).match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? []

describe('verifySnpReport on real vectors', () => {
  it('go-sev-guest attestation.bin + vcek.testcer + ask_ark_milan.pem: valid, DEBUG', (t) => {
    const files = ['attestation.bin', 'vcek.testcer', 'ask_ark_milan.pem']
    if (!haveVectors(t, ...files.map((f) => `go-sev-guest/${f}`))) return
    const [ask, ark] = pems('go-sev-guest/ask_ark_milan.pem') as [string, string]
    const verdict = verifySnpReport(readVector('go-sev-guest/attestation.bin'), {
      vek: readVector('go-sev-guest/vcek.testcer'),
      now: new Date('2022-09-24T01:00:00Z'),
      roots: { Milan: { ark, ask } },
      expectedReportData: Uint8Array.from([1, 2, 3, 4, 5, ...new Array(59).fill(0)]),
    })
    assert.equal(verdict.product, 'Milan')
    assert.equal(verdict.signingKey, 'vcek')
    assert.equal(verdict.crl, 'not-provided')
    const c = verdict.claims
    assert.equal(c.debug, true)
    assert.equal(c.policy, '00000000000b0000')
    assert.deepEqual(c.reportedTcb, { bootloader: 2, tee: 0, snp: 5, microcode: 68 })
    assert.match(c.platformId ?? '', /^3ac3fe21/)
    assert.equal(c.platformId, c.chipId)
    assert.deepEqual(c.source, { kind: 'evidence' })
    assert.equal(c.insecure, false)
    assert.equal(c.tcbStatus, undefined)
    assert.equal(c.reportVersion, 2)
  })

  it('trustee test-report.bin + test-vcek.der at 2025-06-01: valid, no debug', (t) => {
    if (!haveVectors(t, 'trustee/test-report.bin', 'trustee/test-vcek.der')) return
    const verdict = verifySnpReport(readVector('trustee/test-report.bin'), {
      vek: readVector('trustee/test-vcek.der'),
      now: JUNE_2025,
    })
    const c = verdict.claims
    assert.equal(c.tee, 'snp')
    assert.equal(c.debug, false)
    assert.equal(c.guestSvn, 4)
    assert.equal(c.vmpl, 0)
    assert.equal(c.migrationAgent, false)
    assert.equal(c.smtAllowed, true)
    assert.equal(c.smtEnabled, true)
    assert.equal(c.policy, '000000000003001f')
    assert.equal(c.platformInfo, '0000000000000001')
    assert.equal(c.familyId, `01${'00'.repeat(15)}`)
    assert.equal(c.imageId, `02${'00'.repeat(15)}`)
    assert.equal(c.measurement.length, 96)
    assert.equal(c.reportData?.length, 128)
    assert.deepEqual(c.reportedTcb, { bootloader: 3, tee: 0, snp: 8, microcode: 115 })
    assert.deepEqual(c.launchTcb, { bootloader: 3, tee: 0, snp: 8, microcode: 115 })
    assert.equal(c.product, 'Milan')
    assert.equal(c.signingKey, 'vcek')
  })

  it('trustee VLEK report: valid only through the ASVK', (t) => {
    const vlekFiles = ['trustee/test-vlek-report.bin', 'trustee/test-vlek.der']
    const chains = ['go-sev-guest/ask_ark_milan_vlek.pem', 'trustee/milan_ask_ark_asvk.pem']
    if (!haveVectors(t, ...vlekFiles, ...chains, 'go-sev-guest/ask_ark_milan.pem')) return
    const report = readVector('trustee/test-vlek-report.bin')
    const vek = readVector('trustee/test-vlek.der')
    const pinned = verifySnpReport(report, { vek, now: JUNE_2025 })
    assert.equal(pinned.signingKey, 'vlek')
    assert.equal(pinned.product, 'Milan')
    assert.equal(pinned.claims.vmpl, 1)
    assert.equal(pinned.claims.platformId, undefined, 'a zero CHIP_ID identifies no platform')
    assert.deepEqual(pinned.claims.reportedTcb, { bootloader: 4, tee: 0, snp: 24, microcode: 217 })

    const [asvk, ark] = pems('go-sev-guest/ask_ark_milan_vlek.pem') as [string, string]
    verifySnpReport(report, { vek, now: JUNE_2025, roots: { Milan: { ark, asvk } } })
    const [ask2, ark2, asvk2] = pems('trustee/milan_ask_ark_asvk.pem') as [string, string, string]
    verifySnpReport(report, { vek, now: JUNE_2025, roots: { Milan: { ark: ark2, asvk: asvk2 } } })

    // The ASK-only chain: no ASVK pinned, or the ASK configured in the ASVK's place.
    const [ask] = pems('go-sev-guest/ask_ark_milan.pem') as [string, string]
    assert.throws(
      () => verifySnpReport(report, { vek, now: JUNE_2025, roots: { Milan: { ark, ask } } }),
      { code: 'ERR_ATTEST_UNTRUSTED_ROOT' },
    )
    assert.throws(
      () => verifySnpReport(report, { vek, now: JUNE_2025, roots: { Milan: { ark, asvk: ask } } }),
      { code: 'ERR_ATTEST_CHAIN' },
    )
    assert.throws(
      () =>
        verifySnpReport(report, {
          vek,
          now: JUNE_2025,
          roots: { Milan: { ark: ark2, asvk: ask2 } },
        }),
      { code: 'ERR_ATTEST_CHAIN' },
    )
  })

  it('virtee-sev report_milan.hex + vcek_milan.der + cert_chain_milan: valid', (t) => {
    const files = ['report_milan.hex', 'vcek_milan.der', 'cert_chain_milan']
    if (!haveVectors(t, ...files.map((f) => `virtee-sev/${f}`))) return
    const [ask, ark] = pems('virtee-sev/cert_chain_milan') as [string, string]
    const verdict = verifySnpReport(readHexVector('virtee-sev/report_milan.hex'), {
      vek: readVector('virtee-sev/vcek_milan.der'),
      now: JUNE_2025,
      roots: { Milan: { ark, ask } },
    })
    assert.equal(verdict.product, 'Milan')
    assert.equal(verdict.claims.policy, '0000000000030000')
  })

  it('trustee evidence-genoa.json: the v3 Genoa report verifies with its VCEK PEM', (t) => {
    if (!haveVectors(t, 'trustee/evidence-genoa.json')) return
    const { report, vcek } = readGenoaEvidence()
    const verdict = verifySnpReport(report, { vek: vcek, now: JUNE_2025 })
    assert.equal(verdict.product, 'Genoa')
    assert.equal(verdict.claims.reportVersion, 3)
    assert.deepEqual(verdict.claims.reportedTcb, { bootloader: 10, tee: 0, snp: 23, microcode: 84 })
    const [ask, ark] = pems('go-sev-guest/ask_ark_genoa.pem') as [string, string]
    verifySnpReport(report, { vek: vcek, now: JUNE_2025, roots: { Genoa: { ark, ask } } })
  })
})

describe('verifySnpReport refuses', () => {
  const vcekPair = ['trustee/test-report.bin', 'trustee/test-vcek.der'] as const

  it('a report signed by another VCEK: ERR_ATTEST_SIGNATURE (the signature is checked first)', (t) => {
    if (!haveVectors(t, vcekPair[0], 'go-sev-guest/vcek.testcer')) return
    // vcek.testcer chains to the pinned Milan ASK and is valid in 2025, but it did not sign
    // test-report.bin. Its TCB (bl2/snp5/ucode68) and hwID also differ, yet those are compared
    // only once the report is known to be authentic, so the failure is the signature.
    assert.throws(
      () =>
        verifySnpReport(readVector(vcekPair[0]), {
          vek: readVector('go-sev-guest/vcek.testcer'),
          now: JUNE_2025,
        }),
      { code: 'ERR_ATTEST_SIGNATURE' },
    )
  })

  it('a wrong root: Genoa roots for a Milan VCEK', (t) => {
    if (!haveVectors(t, ...vcekPair)) return
    const roots = { Milan: AMD_ROOTS.Genoa } as const
    assert.throws(
      () =>
        verifySnpReport(readVector(vcekPair[0]), {
          vek: readVector(vcekPair[1]),
          now: JUNE_2025,
          roots,
        }),
      (e: { code?: string }) =>
        e.code === 'ERR_ATTEST_CHAIN' || e.code === 'ERR_ATTEST_UNTRUSTED_ROOT',
    )
    assert.throws(
      () =>
        verifySnpReport(readVector(vcekPair[0]), {
          vek: readVector(vcekPair[1]),
          now: JUNE_2025,
          roots: { Genoa: AMD_ROOTS.Genoa },
        }),
      { code: 'ERR_ATTEST_UNTRUSTED_ROOT' },
    )
  })

  it('a time outside the VLEK or VCEK validity: ERR_ATTEST_EXPIRED', (t) => {
    if (!haveVectors(t, 'trustee/test-vlek-report.bin', 'trustee/test-vlek.der', ...vcekPair))
      return
    const vlek = {
      report: readVector('trustee/test-vlek-report.bin'),
      vek: readVector('trustee/test-vlek.der'),
    }
    for (const now of ['2025-12-10T22:14:22Z', '2026-06-01T00:00:00Z', '2024-12-10T22:14:20Z']) {
      assert.throws(() => verifySnpReport(vlek.report, { vek: vlek.vek, now: new Date(now) }), {
        code: 'ERR_ATTEST_EXPIRED',
      })
    }
    assert.throws(
      () =>
        verifySnpReport(readVector(vcekPair[0]), {
          vek: readVector(vcekPair[1]),
          now: new Date('2030-01-24T17:58:27Z'),
        }),
      { code: 'ERR_ATTEST_EXPIRED' },
    )
  })

  it('a wrong expectedReportData: ERR_ATTEST_REPORT_DATA', (t) => {
    if (!haveVectors(t, ...vcekPair)) return
    const report = readVector(vcekPair[0])
    const vek = readVector(vcekPair[1])
    const right = report.slice(0x50, 0x90)
    verifySnpReport(report, { vek, now: JUNE_2025, expectedReportData: right })
    const wrong = right.slice()
    wrong[63] = (wrong[63] as number) ^ 1
    for (const expectedReportData of [wrong, right.subarray(0, 32), new Uint8Array(0)]) {
      assert.throws(() => verifySnpReport(report, { vek, now: JUNE_2025, expectedReportData }), {
        code: 'ERR_ATTEST_REPORT_DATA',
      })
    }
  })

  it('a product that contradicts the VCEK: ERR_ATTEST_TCB_MISMATCH', (t) => {
    if (!haveVectors(t, ...vcekPair, 'trustee/evidence-genoa.json')) return
    assert.throws(
      () =>
        verifySnpReport(readVector(vcekPair[0]), {
          vek: readVector(vcekPair[1]),
          now: JUNE_2025,
          product: 'Genoa',
        }),
      { code: 'ERR_ATTEST_TCB_MISMATCH' },
    )
    const { report, vcek } = readGenoaEvidence()
    assert.throws(() => verifySnpReport(report, { vek: vcek, now: JUNE_2025, product: 'Milan' }), {
      code: 'ERR_ATTEST_TCB_MISMATCH',
    })
  })

  it('a malformed report or VEK: ERR_ATTEST_MALFORMED', (t) => {
    if (!haveVectors(t, ...vcekPair)) return
    const report = readVector(vcekPair[0])
    const vek = readVector(vcekPair[1])
    const grown = new Uint8Array(report.length + 1)
    grown.set(report)
    for (const bad of [report.subarray(0, 1183), grown, new Uint8Array(0)]) {
      assert.throws(() => verifySnpReport(bad, { vek, now: JUNE_2025 }), {
        code: 'ERR_ATTEST_MALFORMED',
      })
    }
    for (const badVek of [vek.subarray(0, 100), new Uint8Array(0), 'not a certificate']) {
      assert.throws(() => verifySnpReport(report, { vek: badVek, now: JUNE_2025 }), {
        code: 'ERR_ATTEST_MALFORMED',
      })
    }
    // A certificate without the KDS extensions (the ASK) is no VEK.
    assert.throws(() => verifySnpReport(report, { vek: AMD_ROOTS.Milan.ask, now: JUNE_2025 }), {
      code: 'ERR_ATTEST_MALFORMED',
    })
  })
})
