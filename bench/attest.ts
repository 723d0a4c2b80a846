// npm run bench: verifications per second on one core, collateral parsed once and cached as a
// broker keeps it: DCAP (dcap-qvl's SGX v3 quote and TDX v4 quote) and SEV-SNP (Trustee's Milan
// report with its VCEK). Reads ../shared/vectors in place (or $SUBROSA_VECTORS); without them it
// prints why and no figures. Ends with one summary line.
import { existsSync, readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import {
  collateralFromDcapQvlJson,
  parseCertificate,
  parseDcapCollateral,
  verifyDcapQuote,
  verifySnpReport,
} from '@subrosa/attest'

const { values } = parseArgs({
  strict: false,
  options: { seconds: { type: 'string', default: '3' } },
})
const budget = Number(values.seconds)
const root =
  process.env.SUBROSA_VECTORS ?? new URL('../../shared/vectors', import.meta.url).pathname
const path = (f: string) => `${root}/${f}`
const files = [
  'dcap-qvl/sgx_quote',
  'dcap-qvl/sgx_quote_collateral.json',
  'dcap-qvl/tdx_quote',
  'dcap-qvl/tdx_quote_collateral.json',
  'trustee/test-report.bin',
  'trustee/test-vcek.der',
]
const missing = files.filter((f) => !existsSync(path(f)))
if (missing.length > 0) {
  process.stderr.write(`bench attest: vectors absent (${missing.join(', ')} under ${root})\n`)
  console.log('bench attest skipped=vectors-absent')
  process.exit(0)
}
const bytes = (f: string) => new Uint8Array(readFileSync(path(f)))
const collateral = (f: string) =>
  parseDcapCollateral(collateralFromDcapQvlJson(readFileSync(path(f), 'utf8')))

/** Calls per second of `f` over about `budget` seconds, after a warm-up. */
function rate(f: () => unknown): number {
  for (let i = 0; i < 20; i++) f()
  let n = 0
  const start = process.hrtime.bigint()
  const end = start + BigInt(Math.round(budget * 1e9))
  let now = start
  while (now < end) {
    for (let i = 0; i < 10; i++) f()
    n += 10
    now = process.hrtime.bigint()
  }
  return n / (Number(now - start) / 1e9)
}

const now = new Date('2025-07-01T00:00:00Z')
const sgx = {
  quote: bytes('dcap-qvl/sgx_quote'),
  collateral: collateral('dcap-qvl/sgx_quote_collateral.json'),
}
const tdx = {
  quote: bytes('dcap-qvl/tdx_quote'),
  collateral: collateral('dcap-qvl/tdx_quote_collateral.json'),
}
const report = bytes('trustee/test-report.bin')
const vek = parseCertificate(bytes('trustee/test-vcek.der'))
const snpNow = new Date('2025-06-01T00:00:00Z')

const sgxRate = rate(() => verifyDcapQuote(sgx.quote, { collateral: sgx.collateral, now }))
const tdxRate = rate(() => verifyDcapQuote(tdx.quote, { collateral: tdx.collateral, now }))
const snpRate = rate(() => verifySnpReport(report, { vek, now: snpNow }))
process.stderr.write(
  `DCAP SGX v3: ${sgxRate.toFixed(0)}/s, DCAP TDX v4: ${tdxRate.toFixed(0)}/s, SEV-SNP: ${snpRate.toFixed(0)}/s (one core, collateral parsed once)\n`,
)
const dcap = (sgxRate + tdxRate) / 2
console.log(`bench attest dcap_per_s=${dcap.toFixed(0)} snp_per_s=${snpRate.toFixed(0)}`)
