// Test-only: reads the shared SEV-SNP vectors in place (never copied; see
// ../shared/vectors/SOURCES.md). Not exported from the package.
import { existsSync, readFileSync } from 'node:fs'
import type { TestContext } from 'node:test'

// biome-ignore lint/style/noProcessEnv: test helper, the vectors' location
const env = process.env.SUBROSA_VECTORS

/** ../shared/vectors relative to the repository root, or $SUBROSA_VECTORS. */
export const VECTORS =
  env === undefined
    ? new URL('../../../../../shared/vectors/', import.meta.url)
    : new URL(`file://${env.replace(/\/?$/, '/')}`)

/** True when every named vector exists; otherwise skips the test with a message naming them. */
export function haveVectors(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !existsSync(new URL(n, VECTORS)))
  if (missing.length === 0) return true
  t.skip(
    `SEV-SNP vectors absent (${missing.map((n) => new URL(n, VECTORS).pathname).join(', ')}): set SUBROSA_VECTORS or provide ../shared/vectors`,
  )
  return false
}

export function readVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, VECTORS)))
}

export function readVectorText(name: string): string {
  return readFileSync(new URL(name, VECTORS), 'utf8')
}

/** virtee-sev report_milan.hex: hex text of the report. */
export function readHexVector(name: string): Uint8Array {
  return new Uint8Array(Buffer.from(readVectorText(name).trim(), 'hex'))
}

/** The SNP report inside trustee evidence-genoa.json (HCL report, offset 0x20) and its VCEK. */
export function readGenoaEvidence(): { report: Uint8Array; vcek: string } {
  const evidence = JSON.parse(readVectorText('trustee/evidence-genoa.json')) as {
    report: number[]
    vcek: string
  }
  const hcl = Uint8Array.from(evidence.report)
  return { report: hcl.slice(0x20, 0x20 + 0x4a0), vcek: evidence.vcek }
}
