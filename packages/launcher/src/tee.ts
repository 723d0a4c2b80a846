import { createSimEvidence } from '@subrosa/attest'
import type { Clock } from '@subrosa/core'
import type { JWK } from 'jose'

/** A source of evidence: one per TEE kind (sim; configfs-tsm for tdx/snp; Gramine for sgx: see tee/). */
export type TeeProvider = {
  readonly tee: string
  /** True for the sim TEE: shown wherever the launcher reports what it did. */
  readonly insecure: boolean
  /** Evidence binding the 64-byte report data. */
  evidence(reportData: Uint8Array): Promise<unknown>
}

/**
 * The sim TEE: "hardware" is the platform private key; the measurement is the bundle's. Insecure
 * by construction.
 */
export function simTee(options: {
  readonly platformKey: JWK
  readonly measurement: Uint8Array
  readonly debug?: boolean
  readonly svn?: number
  readonly clock: Clock
}): TeeProvider {
  return {
    tee: 'sim',
    insecure: true,
    evidence: (reportData) =>
      createSimEvidence(
        {
          measurement: options.measurement,
          reportData,
          debug: options.debug ?? false,
          svn: options.svn ?? 0,
        },
        options.platformKey,
        options.clock(),
      ),
  }
}
