import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateOwnerKey } from './admin-proof.ts'
import { ProtocolError } from './errors.ts'
import {
  policyApprovalSigner,
  signPolicyApproval,
  verifyPolicyApproval,
} from './policy-approval.ts'

const subject = { namespace: 'acme', name: 'taxi', hash: `sha384:${'ab'.repeat(48)}` }
const now = new Date('2026-12-01T00:00:00Z')

const code = (e: unknown) => (e instanceof ProtocolError ? e.code : String(e))

test('an approval verifies under its owner key and names its signer', async () => {
  const owner = await generateOwnerKey()
  const approval = await signPolicyApproval(subject, owner, now)
  assert.equal(policyApprovalSigner(approval), owner.id)
  const r = await verifyPolicyApproval(approval, subject, owner.publicJwk)
  assert.equal(r.ownerId, owner.id)
  assert.equal(r.iat, now.getTime() / 1000)
})

test('an approval of another version, name or namespace is refused', async () => {
  const owner = await generateOwnerKey()
  const approval = await signPolicyApproval(subject, owner, now)
  for (const other of [
    { ...subject, hash: `sha384:${'cd'.repeat(48)}` },
    { ...subject, name: 'other' },
    { ...subject, namespace: 'other' },
  ]) {
    await assert.rejects(verifyPolicyApproval(approval, other, owner.publicJwk), (e) => {
      assert.equal(code(e), 'ERR_POLICY_APPROVAL')
      return true
    })
  }
})

test('an approval under another key, tampered or malformed is refused', async () => {
  const owner = await generateOwnerKey()
  const stranger = await generateOwnerKey()
  const approval = await signPolicyApproval(subject, owner, now)
  const [h, p, s] = approval.split('.') as [string, string, string]
  const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`
  const cases: [unknown, object][] = [
    [approval, stranger.publicJwk],
    [flipped, owner.publicJwk],
    ['not-a-jws', owner.publicJwk],
    [42, owner.publicJwk],
    ['x'.repeat(5000), owner.publicJwk],
  ]
  for (const [a, key] of cases) {
    await assert.rejects(verifyPolicyApproval(a, subject, key), (e) => {
      assert.equal(code(e), 'ERR_POLICY_APPROVAL')
      return true
    })
  }
})
