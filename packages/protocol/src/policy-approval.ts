import { CompactSign, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose'
import { z } from 'zod'
import { ProtocolError } from './errors.ts'

/** `typ` of an owner's approval of one policy version. */
export const POLICY_APPROVAL_TYPE = 'subrosa-policy-approval+jwt'

/** What an approval names: one version of one policy, by the hash of its canonical form. */
export type PolicyApprovalSubject = {
  readonly namespace: string
  readonly name: string
  /** `policyHash` of the version: covers every field, including `metadata.predecessor`. */
  readonly hash: string
}

const payloadSchema = z.strictObject({
  ns: z.string().max(63),
  name: z.string().max(63),
  hash: z.string().regex(/^sha384:[0-9a-f]{96}$/),
  iat: z.number().int(),
})

/**
 * Sign an approval of a policy version with an owner key: an ES256 JWS over the namespace, name
 * and hash of the canonical policy, with the owner key id as `kid`. Because the hash covers
 * `metadata.predecessor`, an approval is valid for exactly one transition and cannot be replayed
 * onto another version.
 *
 * @example
 * const approval = await signPolicyApproval({ namespace, name, hash: policyHash(p) }, owner, now)
 */
export async function signPolicyApproval(
  subject: PolicyApprovalSubject,
  owner: { readonly privateJwk: JWK; readonly id: string },
  now: Date,
): Promise<string> {
  const payload = {
    ns: subject.namespace,
    name: subject.name,
    hash: subject.hash,
    iat: Math.floor(now.getTime() / 1000),
  }
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ES256', typ: POLICY_APPROVAL_TYPE, kid: owner.id })
    .sign(await importJWK(owner.privateJwk, 'ES256'))
}

/** The owner key id a policy approval claims, read without verifying (to look the key up). */
export function policyApprovalSigner(approval: unknown): string {
  if (typeof approval !== 'string' || approval.length > 4096) throw fail('missing or oversized')
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(approval)
  } catch (cause) {
    throw fail('not a compact JWS', cause)
  }
  if (
    header.alg !== 'ES256' ||
    header.typ !== POLICY_APPROVAL_TYPE ||
    typeof header.kid !== 'string'
  ) {
    throw fail(`header must have alg ES256, typ ${POLICY_APPROVAL_TYPE} and a kid`)
  }
  return header.kid
}

/**
 * Verify an owner's approval of a policy version under the owner's public key. Whether that
 * owner counts (is an owner of the policy, is not revoked) is the broker's decision.
 *
 * @throws ProtocolError `ERR_POLICY_APPROVAL` naming what failed (never the approval itself).
 */
export async function verifyPolicyApproval(
  approval: unknown,
  subject: PolicyApprovalSubject,
  publicJwk: JWK,
): Promise<{ ownerId: string; iat: number }> {
  const ownerId = policyApprovalSigner(approval)
  let bytes: Uint8Array
  try {
    bytes = (
      await compactVerify(approval as string, await importJWK(publicJwk, 'ES256'), {
        algorithms: ['ES256'],
      })
    ).payload
  } catch (cause) {
    throw fail('signature does not verify', cause)
  }
  let payload: z.infer<typeof payloadSchema>
  try {
    payload = payloadSchema.parse(JSON.parse(new TextDecoder().decode(bytes)))
  } catch (cause) {
    throw fail('payload is malformed', cause)
  }
  if (
    payload.ns !== subject.namespace ||
    payload.name !== subject.name ||
    payload.hash !== subject.hash
  ) {
    throw fail('it approves another policy version')
  }
  return { ownerId, iat: payload.iat }
}

function fail(why: string, cause?: unknown): ProtocolError {
  return new ProtocolError(
    'ERR_POLICY_APPROVAL',
    `Policy approval refused: ${why}`,
    cause === undefined ? {} : { cause },
  )
}
