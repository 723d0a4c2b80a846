import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AttestError } from '../errors.ts'
import { haveVectors, readGenoaEvidence, readHexVector, readVector } from './test-vectors.ts'
import { verifySnpReport } from './verify-report.ts'

const JUNE_2025 = new Date('2025-06-01T00:00:00Z')

type Case = {
  name: string
  files: string[]
  load: () => { report: Uint8Array; vek: Uint8Array | string }
  now: Date
}

const CASES: Case[] = [
  {
    name: 'go-sev-guest attestation.bin',
    files: ['go-sev-guest/attestation.bin', 'go-sev-guest/vcek.testcer'],
    load: () => ({
      report: readVector('go-sev-guest/attestation.bin'),
      vek: readVector('go-sev-guest/vcek.testcer'),
    }),
    now: new Date('2022-09-24T01:00:00Z'),
  },
  {
    name: 'trustee test-report.bin',
    files: ['trustee/test-report.bin', 'trustee/test-vcek.der'],
    load: () => ({
      report: readVector('trustee/test-report.bin'),
      vek: readVector('trustee/test-vcek.der'),
    }),
    now: JUNE_2025,
  },
  {
    name: 'trustee test-vlek-report.bin',
    files: ['trustee/test-vlek-report.bin', 'trustee/test-vlek.der'],
    load: () => ({
      report: readVector('trustee/test-vlek-report.bin'),
      vek: readVector('trustee/test-vlek.der'),
    }),
    now: JUNE_2025,
  },
  {
    name: 'virtee-sev report_milan.hex',
    files: ['virtee-sev/report_milan.hex', 'virtee-sev/vcek_milan.der'],
    load: () => ({
      report: readHexVector('virtee-sev/report_milan.hex'),
      vek: readVector('virtee-sev/vcek_milan.der'),
    }),
    now: JUNE_2025,
  },
  {
    name: 'trustee evidence-genoa.json',
    files: ['trustee/evidence-genoa.json'],
    load: () => {
      const { report, vcek } = readGenoaEvidence()
      return { report, vek: vcek }
    },
    now: JUNE_2025,
  },
]

/** Bytes the parser checks structurally (a flip there may be ERR_ATTEST_MALFORMED instead). */
function structural(offset: number, version: number): boolean {
  const ranges: [number, number][] = [
    [0x000, 0x004], // VERSION
    [0x008, 0x010], // POLICY
    [0x030, 0x038], // VMPL, SIGNATURE_ALGO
    [0x040, 0x041], // PLATFORM_INFO bit 6
    [0x048, 0x050], // SIGNER_INFO, reserved
    [version >= 3 ? 0x18b : 0x188, 0x1a0],
    [0x1eb, 0x1ec],
    [0x1ef, 0x1f0],
    [version >= 5 ? 0x208 : 0x1f8, 0x2a0],
  ]
  return ranges.some(([from, to]) => offset >= from && offset < to)
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    assert.ok(e instanceof AttestError, `not an AttestError: ${String(e)}`)
    return e.code
  }
  return 'no error'
}

describe('every single flipped byte is refused', () => {
  for (const c of CASES) {
    it(`${c.name}: 672 signed bytes, R and S, the reserved signature tail`, (t) => {
      if (!haveVectors(t, ...c.files)) return
      const { report, vek } = c.load()
      const version = new DataView(report.buffer, report.byteOffset).getUint32(0, true)
      verifySnpReport(report, { vek, now: c.now })
      const counts = { signature: 0, malformed: 0 }
      for (let offset = 0; offset < report.length; offset++) {
        const bad = report.slice()
        bad[offset] = (bad[offset] as number) ^ 0x01
        const code = codeOf(() => verifySnpReport(bad, { vek, now: c.now }))
        const where = `offset 0x${offset.toString(16)}`
        if (offset < 0x2a0 && structural(offset, version)) {
          assert.ok(
            code === 'ERR_ATTEST_SIGNATURE' || code === 'ERR_ATTEST_MALFORMED',
            `${where}: ${code}`,
          )
        } else if (offset < 0x2a0 + 144) {
          assert.equal(code, 'ERR_ATTEST_SIGNATURE', where)
        } else {
          assert.equal(code, 'ERR_ATTEST_MALFORMED', where)
        }
        if (code === 'ERR_ATTEST_SIGNATURE') counts.signature++
        if (code === 'ERR_ATTEST_MALFORMED') counts.malformed++
      }
      t.diagnostic(
        `${c.name}: ${counts.signature} ERR_ATTEST_SIGNATURE, ${counts.malformed} ERR_ATTEST_MALFORMED`,
      )
    })
  }
})
