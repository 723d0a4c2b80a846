import type { JWK } from 'jose'
import type { Claims } from './claims.ts'
import { AttestError } from './errors.ts'
import { verifySimEvidence } from './sim/sim-evidence.ts'

/** Trust roots and time for {@link verifyEvidence}; one entry per TEE kind. */
export type VerifyEvidenceOptions = {
  readonly now: Date
  /** Trusted sim platform public keys; sim evidence is refused when absent. */
  readonly sim?: { readonly trustedKeys: readonly JWK[]; readonly maxAgeSeconds?: number }
}

/**
 * Verify evidence of the given TEE kind and return normalized claims. The caller still has to
 * check report_data binding and evaluate a policy.
 *
 * @throws AttestError `ERR_ATTEST_UNSUPPORTED_TEE` for kinds without a verifier (or sim without
 * trusted keys), and whatever the kind's verifier throws.
 */
export async function verifyEvidence(
  tee: string,
  evidence: unknown,
  options: VerifyEvidenceOptions,
): Promise<Claims> {
  if (tee === 'sim' && options.sim !== undefined) {
    return verifySimEvidence(evidence, { now: options.now, ...options.sim })
  }
  throw new AttestError(
    'ERR_ATTEST_UNSUPPORTED_TEE',
    `No verifier is configured for TEE ${JSON.stringify(tee)}`,
  )
}
