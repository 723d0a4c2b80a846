import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { createAdminProof, generateOwnerKey, verifyAdminProof } from './admin-proof.ts'

describe('admin request proofs', async () => {
  const now = new Date('2026-11-22T12:00:00Z')
  const owner = await generateOwnerKey()
  const intruder = await generateOwnerKey()
  const request = {
    method: 'POST',
    path: '/admin/v0/keys',
    body: utf8('{"namespace":"a","name":"k"}'),
  }
  const resolveKey = async (id: string) => (id === owner.id ? owner.publicJwk : undefined)
  const proof = await createAdminProof(request, owner, now, 'jti-0123456789abcdef')

  it('verifies for the request it was made for', async () => {
    const result = await verifyAdminProof(proof, request, { now, resolveKey })
    assert.equal(result.ownerId, owner.id)
    assert.match(owner.id, /^urn:ietf:params:oauth:jwk-thumbprint:sha-256:[A-Za-z0-9_-]{43}$/)
  })

  it('refuses another body, path or method, stale proofs and unknown keys', async () => {
    const cases = [
      () =>
        verifyAdminProof(
          proof,
          { ...request, body: utf8('{"namespace":"b","name":"k"}') },
          { now, resolveKey },
        ),
      () =>
        verifyAdminProof(proof, { ...request, path: '/admin/v0/policies' }, { now, resolveKey }),
      () => verifyAdminProof(proof, { ...request, method: 'PUT' }, { now, resolveKey }),
      () => verifyAdminProof(proof, request, { now: new Date(now.getTime() + 61_000), resolveKey }),
      async () =>
        verifyAdminProof(
          await createAdminProof(request, intruder, now, 'jti-0123456789abcdef'),
          request,
          { now, resolveKey },
        ),
      () => verifyAdminProof(undefined, request, { now, resolveKey }),
      () => verifyAdminProof('a.b.c', request, { now, resolveKey }),
    ]
    for (const c of cases) await assert.rejects(c(), { code: 'ERR_ADMIN_PROOF' })
  })

  it('refuses a proof signed by another key under the owner id', async () => {
    const forged = await createAdminProof(
      request,
      { privateJwk: intruder.privateJwk, id: owner.id },
      now,
      'jti-0123456789abcdef',
    )
    await assert.rejects(verifyAdminProof(forged, request, { now, resolveKey }), {
      code: 'ERR_ADMIN_PROOF',
    })
  })
})
