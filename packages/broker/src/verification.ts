import type { VerifyEvidenceOptions } from '@subrosa/attest'
import type { BrokerContext } from './context.ts'

/** The verifier options of this broker at time `now` (default: its clock). */
export function verificationOptions(
  ctx: BrokerContext,
  now: Date = ctx.clock(),
): VerifyEvidenceOptions {
  return {
    ...ctx.verification,
    now,
    ...(ctx.simTrustedKeys.length > 0 ? { sim: { trustedKeys: ctx.simTrustedKeys } } : {}),
  }
}
