// What the browser signs with the owner key, byte for byte as @subrosa/protocol does in Node:
// admin request proofs (`createAdminProof`) and policy approvals (`signPolicyApproval`).
import { CompactSign } from 'jose'
import { digest, toBase64Url, utf8 } from './bytes.ts'
import type { OwnerSession } from './owner-key.ts'

/** `typ` of an admin request proof and the HTTP scheme carrying it (see @subrosa/protocol). */
export const ADMIN_PROOF_TYPE = 'subrosa-admin+jwt'
export const ADMIN_AUTH_SCHEME = 'Subrosa-Owner'
/** `typ` of an owner's approval of one policy version. */
export const POLICY_APPROVAL_TYPE = 'subrosa-policy-approval+jwt'

async function sign(payload: object, typ: string, owner: OwnerSession): Promise<string> {
  return new CompactSign(utf8(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ES256', typ, kid: owner.id })
    .sign(owner.privateKey)
}

/** An ES256 proof over method, path, SHA-256 of the body, time and a unique id (DPoP-like). */
export async function createAdminProof(
  request: { method: string; path: string; body: Uint8Array<ArrayBuffer> },
  owner: OwnerSession,
  now: Date,
): Promise<string> {
  const jti = toBase64Url(crypto.getRandomValues(new Uint8Array(18)))
  const payload = {
    htm: request.method.toUpperCase(),
    htu: request.path,
    bh: toBase64Url(await digest('SHA-256', request.body)),
    iat: Math.floor(now.getTime() / 1000),
    jti,
  }
  return sign(payload, ADMIN_PROOF_TYPE, owner)
}

/** An owner's approval of exactly one policy version (namespace, name, `policyHash`). */
export async function signPolicyApproval(
  subject: { namespace: string; name: string; hash: string },
  owner: OwnerSession,
  now: Date,
): Promise<string> {
  const payload = {
    ns: subject.namespace,
    name: subject.name,
    hash: subject.hash,
    iat: Math.floor(now.getTime() / 1000),
  }
  return sign(payload, POLICY_APPROVAL_TYPE, owner)
}
