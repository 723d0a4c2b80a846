import { type Claims, type VerifyEvidenceOptions, verifyEvidence } from '@subrosa/attest'
import { isSubrosaError } from '@subrosa/core'
import { type Decision, evaluatePolicy } from './evaluate.ts'
import type { Policy } from './schema.ts'

/** What `subrosa attest verify` prints and the broker's dry-run answers. No secrets. */
export type AppraisalReport = {
  readonly verified: boolean
  readonly tee: string
  readonly tcbStatus?: string
  readonly advisories: readonly string[]
  readonly claims?: Claims
  readonly details?: Readonly<Record<string, unknown>>
  readonly decision?: Decision
  readonly error?: {
    readonly code: string
    readonly message: string
    readonly details?: Readonly<Record<string, unknown>>
  }
}

/**
 * Verify evidence and, when a policy is given, evaluate it for a workload: the verdict with its
 * reasons, never throwing for a verification failure (it becomes `error` with its code). No
 * nonce is bound and nothing is released: this is for reading and authoring policies.
 */
export async function appraiseEvidence(input: {
  readonly tee: string
  readonly evidence: unknown
  readonly options: VerifyEvidenceOptions
  readonly policy?: Policy
  readonly workload?: string
  readonly allowSim?: boolean
}): Promise<AppraisalReport> {
  let claims: Claims
  let details: Readonly<Record<string, unknown>>
  try {
    ;({ claims, details } = await verifyEvidence(input.tee, input.evidence, input.options))
  } catch (error) {
    if (!isSubrosaError(error)) throw error
    return {
      verified: false,
      tee: input.tee,
      advisories: [],
      error: {
        code: error.code,
        message: error.message,
        ...(error.details === undefined ? {} : { details: error.details }),
      },
    }
  }
  const base = {
    verified: true,
    tee: claims.tee,
    ...(claims.tcbStatus === undefined ? {} : { tcbStatus: claims.tcbStatus }),
    advisories: claims.advisoryIds ?? [],
    claims,
    details,
  }
  if (input.policy === undefined || input.workload === undefined) return base
  return {
    ...base,
    decision: evaluatePolicy(input.policy, input.workload, claims, {
      allowSim: input.allowSim ?? false,
    }),
  }
}
