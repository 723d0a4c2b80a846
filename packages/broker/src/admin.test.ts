import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { systemRandom, toBase64, toBase64Url, utf8 } from '@subrosa/core'
import {
  ADMIN_AUTH_SCHEME,
  createAdminProof,
  decryptWithKey,
  generateOwnerKey,
} from '@subrosa/protocol'
import { exportJWK, generateKeyPair } from 'jose'
import { verifyAuditChain } from './audit.ts'
import { registerOwner } from './owners.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'

describe('admin API', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker()
  })
  after(() => tb.close())

  it('refuses unauthenticated and unregistered callers', async () => {
    const none = await tb.app.inject({
      method: 'POST',
      url: '/admin/v0/keys',
      payload: { namespace: 'acme', name: 'taxi' },
    })
    assert.equal(none.statusCode, 401)
    assert.equal(none.json().code, 'ERR_BROKER_UNAUTHENTICATED')
    const stranger = await generateOwnerKey()
    const res = await tb.admin(
      'POST',
      '/admin/v0/keys',
      { namespace: 'acme', name: 'taxi' },
      stranger,
    )
    assert.equal(res.json().code, 'ERR_ADMIN_PROOF')
  })

  it('refuses a replayed proof and a proof for another body', async () => {
    const body = JSON.stringify({ namespace: 'acme', name: 'replay' })
    const proof = await createAdminProof(
      { method: 'POST', path: '/admin/v0/keys', body: utf8(body) },
      tb.owner,
      tb.now(),
      toBase64Url(systemRandom(18)),
    )
    const send = (payload: string) =>
      tb.app.inject({
        method: 'POST',
        url: '/admin/v0/keys',
        headers: {
          authorization: `${ADMIN_AUTH_SCHEME} ${proof}`,
          'content-type': 'application/json',
        },
        payload,
      })
    assert.equal((await send(body)).statusCode, 201)
    assert.equal((await send(body)).json().code, 'ERR_BROKER_REPLAY')
    assert.equal(
      (await send(JSON.stringify({ namespace: 'acme', name: 'other' }))).json().code,
      'ERR_ADMIN_PROOF',
    )
  })

  it('creates keys idempotently and keeps namespaces to their owners', async () => {
    const first = await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name: 'taxi' })
    assert.equal(first.statusCode, 201)
    assert.equal(first.json().id, 'subrosa:acme/taxi')
    assert.equal(
      (await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name: 'taxi' })).json()
        .created,
      false,
    )
    const other = await generateOwnerKey()
    await registerOwner(tb.context, other.publicJwk)
    const res = await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name: 'mine' }, other)
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().code, 'ERR_BROKER_FORBIDDEN')
    const bad = await tb.admin('POST', '/admin/v0/keys', { namespace: 'Acme!', name: 'x' })
    assert.equal(bad.json().code, 'ERR_PROTOCOL_MALFORMED')
  })

  it('reports policy validation errors with their path, and refuses a wrong predecessor', async () => {
    const broken = testPolicyYaml(tb.owner.id, 'ab'.repeat(48)).replace('ab'.repeat(48), 'not-hex')
    const res = await tb.admin('POST', '/admin/v0/policies', { yaml: broken })
    assert.equal(res.statusCode, 400)
    assert.equal(res.json().code, 'ERR_POLICY_INVALID')
    assert.match(String(res.json().details.path), /^workloads\[0\]\.accept\[0\]\.measurement/)
    const yaml = await tb.admin('POST', '/admin/v0/policies', { yaml: 'a: [' })
    assert.equal(yaml.json().code, 'ERR_POLICY_YAML')

    const ok = await tb.admin('POST', '/admin/v0/policies', {
      yaml: testPolicyYaml(tb.owner.id, 'ab'.repeat(48)),
    })
    assert.equal(ok.statusCode, 201)
    assert.equal(
      (
        await tb.admin('POST', '/admin/v0/policies', {
          yaml: testPolicyYaml(tb.owner.id, 'ab'.repeat(48)),
        })
      ).json().created,
      false,
    )
    const conflict = await tb.admin('POST', '/admin/v0/policies', {
      yaml: testPolicyYaml(tb.owner.id, 'cd'.repeat(48)),
    })
    assert.equal(conflict.statusCode, 409)
    assert.equal(conflict.json().code, 'ERR_BROKER_CONFLICT')
  })

  it('wraps and unwraps for the owner, answering unwrap only as a JWE to the given key', async () => {
    const key = systemRandom(16)
    const wrap = await tb.admin('POST', '/kms/v0/wrap', {
      masterKeyId: 'subrosa:acme/taxi',
      key: toBase64(key),
    })
    assert.equal(wrap.statusCode, 200, wrap.body)
    const { wrapped } = wrap.json() as { wrapped: string }
    const noRecipient = await tb.admin('POST', '/kms/v0/unwrap', {
      masterKeyId: 'subrosa:acme/taxi',
      wrapped,
    })
    assert.equal(noRecipient.json().code, 'ERR_PROTOCOL_MALFORMED')
    const { privateKey, publicKey } = await generateKeyPair('ECDH-ES+A256KW')
    const { kty, crv, x, y } = await exportJWK(publicKey)
    const unwrap = await tb.admin('POST', '/kms/v0/unwrap', {
      masterKeyId: 'subrosa:acme/taxi',
      wrapped,
      recipient: { kty, crv, x, y },
    })
    assert.equal(unwrap.statusCode, 200, unwrap.body)
    const plain = JSON.parse(
      new TextDecoder().decode(await decryptWithKey(unwrap.json().jwe, privateKey)),
    )
    assert.equal(plain.key, toBase64(key))
    const other = await tb.admin('POST', '/kms/v0/unwrap', {
      masterKeyId: 'subrosa:acme/replay',
      wrapped,
      recipient: { kty, crv, x, y },
    })
    assert.equal(other.json().code, 'ERR_CRYPTO_AUTH')
    const missing = await tb.admin('POST', '/kms/v0/wrap', {
      masterKeyId: 'subrosa:acme/nope',
      key: toBase64(key),
    })
    assert.equal(missing.json().code, 'ERR_BROKER_NOT_FOUND')
    // The short id (what Spark's and pyarrow's column.keys syntax can hold) names the same key;
    // the wrapping is bound to the id as written.
    const short = await tb.admin('POST', '/kms/v0/wrap', {
      masterKeyId: 'acme/taxi',
      key: toBase64(key),
    })
    assert.equal(short.statusCode, 200, short.body)
    const back = await tb.admin('POST', '/kms/v0/unwrap', {
      masterKeyId: 'acme/taxi',
      wrapped: short.json().wrapped,
      recipient: { kty, crv, x, y },
    })
    assert.equal(back.statusCode, 200, back.body)
    const crossed = await tb.admin('POST', '/kms/v0/unwrap', {
      masterKeyId: 'subrosa:acme/taxi',
      wrapped: short.json().wrapped,
      recipient: { kty, crv, x, y },
    })
    assert.equal(crossed.json().code, 'ERR_CRYPTO_AUTH')
  })

  it('keeps a verifiable audit chain and detects tampering with it', async () => {
    const audit = await tb.admin('GET', '/admin/v0/audit')
    assert.equal(audit.json().verified, true)
    const kinds = (audit.json().entries as { kind: string }[]).map((e) => e.kind)
    for (const k of [
      'owner.register',
      'key.create',
      'policy.apply',
      'secret.generate',
      'key.wrap',
      'key.release',
    ])
      assert.ok(kinds.includes(k), k)
    await tb.context.db.query(
      `UPDATE audit_log SET data = '{"forged":true}' WHERE kind = 'key.release'`,
    )
    const chain = await verifyAuditChain(tb.context.db)
    assert.equal(chain.ok, false)
    assert.equal((await tb.admin('GET', '/admin/v0/audit')).json().verified, false)
  })
})
