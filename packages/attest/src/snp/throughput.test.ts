// Measures verifications per second on a real report (reported as a diagnostic, not asserted
// beyond a floor that catches an accidental slow path). Roots are parsed once and cached; the
// chain (VCEK ← ASK ← ARK) is verified on every call; the VCEK is parsed per call or passed parsed.
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { it } from 'node:test'
import { parseCertificate } from '../x509/index.ts'
import { parseSnpReport } from './report.ts'
import { verifySnpReportSignature } from './signature.ts'
import { haveVectors, readVector } from './test-vectors.ts'
import { verifySnpReport } from './verify-report.ts'

function rate(run: () => void, ms = 1000): number {
  run()
  let n = 0
  const started = performance.now()
  while (performance.now() - started < ms) {
    run()
    n++
  }
  return (n * 1000) / (performance.now() - started)
}

it('verifySnpReport throughput (trustee test-report.bin)', (t) => {
  if (!haveVectors(t, 'trustee/test-report.bin', 'trustee/test-vcek.der')) return
  const report = readVector('trustee/test-report.bin')
  const vek = readVector('trustee/test-vcek.der')
  const now = new Date('2025-06-01T00:00:00Z')
  const full = rate(() => verifySnpReport(report, { vek, now }))
  const vekParsed = parseCertificate(vek)
  const preParsed = rate(() => verifySnpReport(report, { vek: vekParsed, now }))
  const parsed = parseSnpReport(report)
  const key = new X509Certificate(vek).publicKey
  const signatureOnly = rate(() => verifySnpReportSignature(parsed, key))
  const parseOnly = rate(() => parseSnpReport(report), 300)
  t.diagnostic(
    `full verification ${full.toFixed(0)}/s; with the VCEK pre-parsed ${preParsed.toFixed(0)}/s; report signature alone ${signatureOnly.toFixed(0)}/s; parse alone ${parseOnly.toFixed(0)}/s`,
  )
  assert.ok(full > 20)
})
