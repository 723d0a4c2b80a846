import { fromBase64, toBase64 } from '@subrosa/core'
import type { KmsClient } from '@subrosa/crypto'
import { decryptWithKey } from '@subrosa/protocol'
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose'
import type { BrokerClient } from './client.ts'
import { SdkError } from './errors.ts'

async function unwrapResponse(body: unknown, key: CryptoKey | JWK): Promise<Uint8Array> {
  const jwe = (body as { jwe?: unknown } | undefined)?.jwe
  const plaintext = await decryptWithKey(jwe, key)
  let parsed: { key?: unknown }
  try {
    parsed = JSON.parse(new TextDecoder().decode(plaintext)) as { key?: unknown }
  } finally {
    plaintext.fill(0)
  }
  const bytes = typeof parsed.key === 'string' ? fromBase64(parsed.key) : undefined
  if (bytes === undefined)
    throw new SdkError('ERR_SDK_RESPONSE', 'Unwrap response does not carry a key')
  return bytes
}

/**
 * A KmsClient backed by the broker for an attested workload: calls carry the attestation token,
 * and unwrapped keys come back as JWEs only the TEE's private key opens.
 */
export function createWorkloadKms(
  client: BrokerClient,
  token: string,
  teePrivateKey: CryptoKey,
): KmsClient {
  return {
    async wrapKey(key, masterKeyId) {
      const res = await client.call(
        'POST',
        '/kms/v0/wrap',
        { kind: 'bearer', token },
        { masterKeyId, key: toBase64(key) },
      )
      return (res.body as { wrapped: string }).wrapped
    },
    async unwrapKey(wrapped, masterKeyId) {
      const res = await client.call(
        'POST',
        '/kms/v0/unwrap',
        { kind: 'bearer', token },
        { masterKeyId, wrapped },
      )
      return unwrapResponse(res.body, teePrivateKey)
    },
  }
}

/**
 * A KmsClient backed by the broker for a namespace owner (the custodian): calls are signed with
 * the owner key; each unwrap sends a fresh ephemeral public key the answer is encrypted to.
 */
export function createOwnerKms(client: BrokerClient): KmsClient {
  return {
    async wrapKey(key, masterKeyId) {
      const res = await client.call(
        'POST',
        '/kms/v0/wrap',
        { kind: 'owner' },
        { masterKeyId, key: toBase64(key) },
      )
      return (res.body as { wrapped: string }).wrapped
    },
    async unwrapKey(wrapped, masterKeyId) {
      const { privateKey, publicKey } = await generateKeyPair('ECDH-ES+A256KW', {
        extractable: true,
      })
      const { kty, crv, x, y } = await exportJWK(publicKey)
      const res = await client.call(
        'POST',
        '/kms/v0/unwrap',
        { kind: 'owner' },
        { masterKeyId, wrapped, recipient: { kty, crv, x, y } },
      )
      return unwrapResponse(res.body, privateKey)
    },
  }
}
