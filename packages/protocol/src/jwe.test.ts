import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { exportJWK, generateKeyPair } from 'jose'
import { decryptWithKey, encryptToKey } from './jwe.ts'

describe('JWE to a TEE key', async () => {
  const a = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
  const b = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
  const jwe = await encryptToKey(utf8('secret'), await exportJWK(a.publicKey))

  it('round-trips with the private key, as JWK or CryptoKey', async () => {
    assert.deepEqual(await decryptWithKey(jwe, a.privateKey), utf8('secret'))
    assert.deepEqual(await decryptWithKey(jwe, await exportJWK(a.privateKey)), utf8('secret'))
    assert.equal(
      JSON.parse(Buffer.from(jwe.protected ?? '', 'base64url').toString()).enc,
      'A256GCM',
    )
  })

  it('fails with a typed error for the wrong key, tampering or garbage', async () => {
    await assert.rejects(decryptWithKey(jwe, b.privateKey), { code: 'ERR_JWE_DECRYPT' })
    const ct = Buffer.from(jwe.ciphertext, 'base64url')
    ct[0] = (ct[0] as number) ^ 1
    await assert.rejects(
      decryptWithKey({ ...jwe, ciphertext: ct.toString('base64url') }, a.privateKey),
      { code: 'ERR_JWE_DECRYPT' },
    )
    await assert.rejects(decryptWithKey({ nope: 1 }, a.privateKey), {
      code: 'ERR_PROTOCOL_MALFORMED',
    })
  })
})
