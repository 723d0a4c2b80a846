import assert from 'node:assert/strict'
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import { describe, it } from 'node:test'
import { parseSnpReport } from './report.ts'
import { verifySnpReportSignature } from './signature.ts'
import { haveVectors, readGenoaEvidence, readHexVector, readVector } from './test-vectors.ts'

const PAIRS = [
  ['go-sev-guest/attestation.bin', 'go-sev-guest/vcek.testcer'],
  ['trustee/test-report.bin', 'trustee/test-vcek.der'],
  ['trustee/test-vlek-report.bin', 'trustee/test-vlek.der'],
  ['virtee-sev/report_milan.hex', 'virtee-sev/vcek_milan.der'],
] as const

function load(report: string, vek: string) {
  const bytes = report.endsWith('.hex') ? readHexVector(report) : readVector(report)
  return { bytes, key: new X509Certificate(readVector(vek)).publicKey }
}

describe('verifySnpReportSignature', () => {
  for (const [report, vek] of PAIRS) {
    it(`${report} verifies with ${vek}`, (t) => {
      if (!haveVectors(t, report, vek)) return
      const { bytes, key } = load(report, vek)
      verifySnpReportSignature(parseSnpReport(bytes), key)
    })
  }

  it('the Genoa report inside evidence-genoa.json verifies with its VCEK', (t) => {
    if (!haveVectors(t, 'trustee/evidence-genoa.json')) return
    const { report, vcek } = readGenoaEvidence()
    verifySnpReportSignature(parseSnpReport(report), new X509Certificate(vcek).publicKey)
  })

  it('refuses flipped R or S bytes, oversized scalars, another key, a non-P-384 key', (t) => {
    const [report, vek] = PAIRS[1]
    if (!haveVectors(t, report, vek, 'go-sev-guest/vcek.testcer')) return
    const { bytes, key } = load(report, vek)
    const refuse = (b: Uint8Array, k = key) =>
      assert.throws(() => verifySnpReportSignature(parseSnpReport(b), k), {
        code: 'ERR_ATTEST_SIGNATURE',
      })
    for (const offset of [0x2a0, 0x2a0 + 47, 0x2a0 + 48, 0x2e7, 0x2e8, 0x2e8 + 47, 0x32f]) {
      const b = bytes.slice()
      b[offset] = (b[offset] as number) ^ 0x01
      refuse(b)
    }
    refuse(bytes, new X509Certificate(readVector('go-sev-guest/vcek.testcer')).publicKey)
    refuse(bytes, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)
  })
})
