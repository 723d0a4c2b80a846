import {
  type PolicyApprovalSubject,
  policyApprovalSigner,
  verifyPolicyApproval,
} from '@subrosa/protocol'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { ownerRecord } from './owners.ts'

/** An owner whose approval counts; `approval` is absent for the applying owner's request proof. */
export type CountedApproval = { readonly ownerId: string; readonly approval?: string }

/**
 * Verify owners' approvals of a policy version and check they reach the governing threshold.
 * Each approval must be signed by a registered, unrevoked key listed among the governing owners,
 * over exactly this version; an owner counts once. `requester`, when given, counts as one
 * approval (its admin request proof already signs the document).
 *
 * @throws ProtocolError `ERR_POLICY_APPROVAL`; BrokerError `ERR_BROKER_APPROVAL`,
 * `ERR_BROKER_OWNER_REVOKED`.
 */
export async function countApprovals(
  ctx: BrokerContext,
  options: {
    readonly subject: PolicyApprovalSubject
    readonly governing: { readonly threshold: number; readonly keys: readonly string[] }
    readonly approvals: readonly string[]
    readonly requester: string | undefined
  },
): Promise<CountedApproval[]> {
  const { subject, governing } = options
  const counted = new Map<string, string | undefined>()
  if (options.requester !== undefined) counted.set(options.requester, undefined)
  for (const approval of options.approvals) {
    const signer = policyApprovalSigner(approval)
    const owner = governing.keys.includes(signer) ? await ownerRecord(ctx, signer) : undefined
    if (owner === undefined) {
      throw new BrokerError(
        'ERR_BROKER_APPROVAL',
        `An approval is signed by a key that is not a registered owner of ${subject.namespace}/${subject.name}`,
      )
    }
    if (owner.revoked) {
      throw new BrokerError('ERR_BROKER_OWNER_REVOKED', 'An approval is signed by a revoked key')
    }
    await verifyPolicyApproval(approval, subject, owner.jwk)
    counted.set(signer, approval)
  }
  if (counted.size < governing.threshold) {
    throw new BrokerError(
      'ERR_BROKER_APPROVAL',
      counted.size === 0
        ? `Policy ${subject.namespace}/${subject.name} is unsigned; this broker accepts only policies approved by ${governing.threshold} owner(s)`
        : `Policy ${subject.namespace}/${subject.name} has ${counted.size} of the ${governing.threshold} owner approvals it needs`,
      { details: { needed: governing.threshold, got: counted.size } },
    )
  }
  return [...counted].map(([ownerId, approval]) =>
    approval === undefined ? { ownerId } : { ownerId, approval },
  )
}
