import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { systemRandom, toBase64Url, utf8 } from '@subrosa/core'
import { exportJWK, flattenedDecrypt, generateKeyPair } from 'jose'
import { decryptWithKey } from './jwe.ts'
import { encryptToTeeKey } from './jwe-node.ts'
import { type TeePublicKey, teePublicKeySchema } from './kbs.ts'

describe('JWE to a TEE key with node:crypto', async () => {
  const a = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
  const b = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
  const teeKey: TeePublicKey = teePublicKeySchema.parse(await exportJWK(a.publicKey))

  it('is decrypted by jose for every plaintext length, with a fresh ephemeral key each time', async () => {
    const epks = new Set<string>()
    for (const length of [0, 1, 15, 16, 17, 32, 1000, 65_537]) {
      const plaintext = systemRandom(length)
      const jwe = encryptToTeeKey(plaintext, teeKey, systemRandom)
      const { plaintext: opened, protectedHeader } = await flattenedDecrypt(jwe, a.privateKey, {
        keyManagementAlgorithms: ['ECDH-ES+A256KW'],
        contentEncryptionAlgorithms: ['A256GCM'],
      })
      assert.deepEqual(new Uint8Array(opened), plaintext)
      assert.equal(protectedHeader?.alg, 'ECDH-ES+A256KW')
      assert.equal(protectedHeader?.enc, 'A256GCM')
      epks.add(JSON.stringify(protectedHeader?.epk))
      assert.deepEqual(await decryptWithKey(jwe, await exportJWK(a.privateKey)), plaintext)
    }
    assert.equal(epks.size, 8)
  })

  it('fails to decrypt with the wrong key or after tampering, with a typed error', async () => {
    const jwe = encryptToTeeKey(utf8('pepper'), teeKey, systemRandom)
    await assert.rejects(decryptWithKey(jwe, b.privateKey), { code: 'ERR_JWE_DECRYPT' })
    for (const field of ['ciphertext', 'tag', 'iv', 'encrypted_key', 'protected'] as const) {
      const bytes = Buffer.from(jwe[field] as string, 'base64url')
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1
      await assert.rejects(
        decryptWithKey({ ...jwe, [field]: bytes.toString('base64url') }, a.privateKey),
        {
          code:
            field === 'protected' ? /ERR_JWE_DECRYPT|ERR_PROTOCOL_MALFORMED/ : 'ERR_JWE_DECRYPT',
        },
        field,
      )
    }
  })

  it('refuses a TEE key that is not a point on P-256', () => {
    for (const bad of [
      { ...teeKey, y: toBase64Url(new Uint8Array(32).fill(7)) },
      { ...teeKey, x: toBase64Url(new Uint8Array(32)), y: toBase64Url(new Uint8Array(32)) },
      { ...teeKey, y: teeKey.y.slice(0, 42) },
      { ...teeKey, y: `${teeKey.y.slice(0, 42)}${teeKey.y.endsWith('A') ? 'B' : 'A'}` },
    ])
      assert.throws(() => encryptToTeeKey(utf8('x'), bad, systemRandom), {
        code: 'ERR_PROTOCOL_MALFORMED',
      })
  })
})
