import { utf8 } from '@subrosa/core'
import {
  type CryptoKey,
  FlattenedEncrypt,
  type FlattenedJWE,
  flattenedDecrypt,
  importJWK,
  type JWK,
} from 'jose'
import { z } from 'zod'
import { ProtocolError } from './errors.ts'
import type { TeePublicKey } from './kbs.ts'
import { parseWire } from './parse.ts'

export const flattenedJweSchema = z.object({
  protected: z.string(),
  encrypted_key: z.string(),
  iv: z.string(),
  ciphertext: z.string(),
  tag: z.string(),
  aad: z.string().optional(),
  header: z.record(z.string(), z.unknown()).optional(),
  unprotected: z.record(z.string(), z.unknown()).optional(),
})

/**
 * Encrypt bytes to an EC P-256 public key as a flattened JWE (ECDH-ES+A256KW, A256GCM): the
 * KBS resource response format.
 */
export async function encryptToKey(
  plaintext: Uint8Array,
  recipient: JWK | TeePublicKey,
): Promise<FlattenedJWE> {
  const { kty, crv, x, y } = recipient
  const key = await importJWK({ kty, crv, x, y, alg: 'ECDH-ES+A256KW' } as JWK, 'ECDH-ES+A256KW')
  return new FlattenedEncrypt(plaintext)
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
    .encrypt(key)
}

/**
 * Decrypt a flattened JWE produced by {@link encryptToKey}.
 *
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` (not a JWE), `ERR_JWE_DECRYPT` (wrong key or
 * tampered).
 */
export async function decryptWithKey(
  jwe: unknown,
  privateKey: CryptoKey | JWK,
): Promise<Uint8Array> {
  const parsed = parseWire(flattenedJweSchema, jwe, 'JWE')
  const key =
    'kty' in privateKey
      ? await importJWK({ ...privateKey, alg: 'ECDH-ES+A256KW' }, 'ECDH-ES+A256KW')
      : privateKey
  try {
    const { plaintext } = await flattenedDecrypt(parsed as FlattenedJWE, key, {
      keyManagementAlgorithms: ['ECDH-ES+A256KW'],
      contentEncryptionAlgorithms: ['A256GCM'],
    })
    return plaintext
  } catch (cause) {
    throw new ProtocolError(
      'ERR_JWE_DECRYPT',
      'Cannot decrypt JWE: wrong key or tampered message',
      { cause },
    )
  }
}

/** Encrypt a JSON value to a key (see {@link encryptToKey}). */
export async function encryptJsonToKey(
  value: unknown,
  recipient: JWK | TeePublicKey,
): Promise<FlattenedJWE> {
  return encryptToKey(utf8(JSON.stringify(value)), recipient)
}
