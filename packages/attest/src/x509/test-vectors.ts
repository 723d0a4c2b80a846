// Test-only: the shared vectors (../shared/vectors, or $SUBROSA_VECTORS), read in place, never
// copied. Not exported from the package.
import { existsSync, readFileSync } from 'node:fs'
import type { TestContext } from 'node:test'

// biome-ignore lint/style/noProcessEnv: test-only helper locating the shared vectors
const override = process.env.SUBROSA_VECTORS

export const VECTORS =
  override === undefined
    ? new URL('../../../../../shared/vectors/', import.meta.url)
    : new URL(`file://${override.replace(/\/?$/, '/')}`)

/** True when every file exists; otherwise skips the test naming what is missing. */
export function haveVectors(t: TestContext, ...files: string[]): boolean {
  const missing = files.filter((f) => !existsSync(new URL(f, VECTORS)))
  if (missing.length === 0) return true
  t.skip(`vectors absent (${missing.join(', ')} under ${VECTORS.pathname}): set SUBROSA_VECTORS`)
  return false
}

export function vectorBytes(file: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(file, VECTORS)))
}

export function vectorText(file: string): string {
  return readFileSync(new URL(file, VECTORS), 'utf8')
}
