// Fixture documents and values shared by the tests (see ../fixtures/README.md).
import { readFileSync } from 'node:fs'
import type { SimClaims } from '@subrosa/attest'

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/${name}`, import.meta.url), 'utf8')

/** The ARCHITECTURE.md policy: workload taxi-job accepts tdx, sgx, sim (SIM_V1), sim (SIM_V2, minSvn 3). */
export const EXAMPLE_POLICY = fixture('taxi-analytics.policy.yaml')
/** A job over that policy. */
export const EXAMPLE_JOB = fixture('taxi-fares.job.yaml')

export const SIM_V1 =
  '17df504a438b396c0710d96e2a939488200b39243619b79a38a39cdb94da0d4712419b9f64818d3ef8394f0bccdfce53'
export const SIM_V2 =
  'f59f739b7782ca857c221c321f7375a70c614adcf1279b51e6258dfc6be275813bd100fcbaf830c1ff5bf702d2825eae'
export const OWNER =
  'urn:ietf:params:oauth:jwk-thumbprint:sha-256:NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'

/** Verified sim claims for SIM_V1 at svn 0, not debug. */
export function simClaims(over: Partial<SimClaims> = {}): SimClaims {
  return {
    tee: 'sim',
    insecure: true,
    debug: false,
    measurement: SIM_V1,
    svn: 0,
    reportData: '00'.repeat(64),
    platformKey: 'q6Yk4lHzNdbFcaxhj7yYHaSmB5qPN8YJHk3i6k8Ju4c',
    ...over,
  }
}

/** The error a function throws, for asserting its code and details. */
export function thrown(fn: () => unknown): {
  code: string
  details: { path: string; errors: string[]; line?: number; column?: number }
} {
  try {
    fn()
  } catch (error) {
    return error as ReturnType<typeof thrown>
  }
  throw new Error('expected an error')
}
