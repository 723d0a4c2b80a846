// The browser modules, run in Node (same WebCrypto), agree byte for byte with the Node
// implementations the broker uses: policy hash, admin proof, policy approval, audit export, and
// the clerk portal's request (the SDK opens it; the healthcare API verifies its clerk proof).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parsePolicy, policyHash } from '@subrosa/policy'
import {
  generateOwnerKey as generateNodeOwnerKey,
  verifyAdminProof,
  verifyPolicyApproval,
} from '@subrosa/protocol'
import { createMemoryReplayCache, openAttestedRequest, ATTESTED_JWE as SDK_JWE } from '@subrosa/sdk'
import { exportJWK, generateKeyPair } from 'jose'
import * as api from '../../../examples/healthcare/clerk-auth.ts'
import { verifyAuditExport } from '../web/audit-chain.ts'
import {
  ATTESTED_JWE,
  CLERK_PROOF_TYP,
  CLERK_RECORDS_PATH,
  clerkKeyId,
  sealRecord,
  type VerifiedService,
} from '../web/clerk.ts'
import { importOwnerKey } from '../web/owner-key.ts'
import { parseDraft, withPredecessor } from '../web/policy-hash.ts'
import { createAdminProof, signPolicyApproval } from '../web/signing.ts'
import { MEASUREMENT, policyYaml } from './policy-fixture.ts'

describe('browser modules agree with the Node implementations', () => {
  it('hash a policy draft as policyHash does, and report invalid drafts', async () => {
    const owner = await generateNodeOwnerKey()
    const yaml = policyYaml(owner.id, MEASUREMENT.toUpperCase(), null)
    const draft = await parseDraft(yaml)
    assert.ok(draft.ok)
    assert.equal(draft.hash, policyHash(parsePolicy(yaml)))
    const next = withPredecessor(yaml, draft.hash)
    assert.equal(parsePolicy(next).metadata.predecessor, draft.hash)
    const bad = await parseDraft(yaml.replace('threshold: 1', 'threshold: 0'))
    assert.equal(bad.ok, false)
    assert.equal(bad.ok ? '' : bad.code, 'ERR_POLICY_INVALID')
  })

  it('sign admin proofs and approvals that the protocol verifies', async () => {
    const owner = await generateNodeOwnerKey()
    const session = await importOwnerKey(JSON.stringify(owner.privateJwk))
    assert.equal(session.id, owner.id)
    const body = new TextEncoder().encode('{"yaml":"x"}')
    const now = new Date()
    const proof = await createAdminProof(
      { method: 'post', path: '/admin/v0/policies', body },
      session,
      now,
    )
    const request = { method: 'POST', path: '/admin/v0/policies', body }
    const resolveKey = async (id: string) => (id === owner.id ? owner.publicJwk : undefined)
    const verified = await verifyAdminProof(proof, request, { now, resolveKey })
    assert.equal(verified.ownerId, owner.id)
    await assert.rejects(
      verifyAdminProof(
        proof,
        { ...request, body: new TextEncoder().encode('{}') },
        { now, resolveKey },
      ),
      { code: 'ERR_ADMIN_PROOF' },
    )
    const subject = { namespace: 'acme', name: 'analytics', hash: `sha384:${'a'.repeat(96)}` }
    const approval = await signPolicyApproval(subject, session, now)
    assert.equal((await verifyPolicyApproval(approval, subject, owner.publicJwk)).ownerId, owner.id)
    await assert.rejects(
      verifyPolicyApproval(approval, { ...subject, name: 'other' }, owner.publicJwk),
      { code: 'ERR_POLICY_APPROVAL' },
    )
  })

  it('refuse key files that are not owner private keys', async () => {
    const owner = await generateNodeOwnerKey()
    for (const text of ['not json', '{"kty":"RSA"}', JSON.stringify(owner.publicJwk)])
      await assert.rejects(importOwnerKey(text), { name: 'OwnerKeyError' })
  })

  it('seal a clerk record that the service opens and the API authorizes', async () => {
    assert.deepEqual(ATTESTED_JWE, SDK_JWE)
    assert.equal(CLERK_PROOF_TYP, api.CLERK_PROOF_TYP)
    assert.equal(CLERK_RECORDS_PATH, api.CLERK_RECORDS_PATH)
    const clerkKey = await generateNodeOwnerKey()
    const clerk = await importOwnerKey(JSON.stringify(clerkKey.privateJwk), 'clerk.jwk')
    const tee = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
    const service = { ok: true, key: tee.publicKey } as unknown as VerifiedService
    const record = { recordId: 'r-1', patient: { name: 'A', birthDate: '1970-01-01' } }
    const { jwe, proof } = await sealRecord(record, service, clerk, 'api')
    const keyring = await api.clerkKeyring([clerkKey.publicJwk])
    const options = { keyring, audience: 'api', replayCache: createMemoryReplayCache() }
    const body = new TextEncoder().encode(jwe)
    const opened = await openAttestedRequest(
      { authorization: `Bearer ${proof}`, body },
      {
        teePrivateKey: await exportJWK(tee.privateKey),
        verifyCaller: (t) => api.verifyClerkProof(t, body, { ...options, now: new Date() }),
      },
    )
    assert.deepEqual(opened.caller, { clerk: clerkKeyId(clerk) })
    assert.deepEqual(opened.payload, record)
  })

  it('find the first altered entry of an audit export', async () => {
    const { exportText, jwks } = await import('./audit-fixture.ts').then((m) => m.auditExport())
    const ok = await verifyAuditExport(exportText, jwks)
    assert.ok(ok.status.ok)
    const lines = exportText.split('\n')
    const i = lines.findIndex((l) => l.includes('"seq":2,'))
    lines[i] = (lines[i] as string).replace('"kind":"', '"kind":"x')
    const bad = await verifyAuditExport(lines.join('\n'), jwks)
    assert.deepEqual(bad.status, { ok: false, seq: 2, reason: 'its fields were changed' })
  })
})
