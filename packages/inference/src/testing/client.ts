// A minimal client of the inference protocol for tests (the SDK's attestedFetch is the real one):
// encrypt a request to a given key, decrypt the answer with an ephemeral reply key.
import { request } from 'node:https'
import { utf8 } from '@subrosa/core'
import {
  CompactEncrypt,
  type CryptoKey,
  compactDecrypt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose'
import type { WireTensor } from '../tensors.ts'

/** Encrypt `{inputs, replyKey}` to `to`; returns the JWE and the reply key's private half. */
export async function sealRequest(
  to: JWK | CryptoKey,
  inputs: Record<string, WireTensor>,
): Promise<{ jwe: string; replyPrivateKey: CryptoKey }> {
  const reply = await generateKeyPair('ECDH-ES+A256KW')
  const replyKey = await exportJWK(reply.publicKey)
  const key = 'kty' in to ? ((await importJWK(to, 'ECDH-ES+A256KW')) as CryptoKey) : to
  const jwe = await new CompactEncrypt(utf8(JSON.stringify({ inputs, replyKey })))
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
    .encrypt(key)
  return { jwe, replyPrivateKey: reply.privateKey }
}

/** Decrypt an answer to the reply key. */
export async function openAnswer(
  jwe: string,
  replyPrivateKey: CryptoKey,
): Promise<{ outputs: Record<string, WireTensor> }> {
  const { plaintext } = await compactDecrypt(jwe, replyPrivateKey)
  return JSON.parse(new TextDecoder().decode(plaintext)) as { outputs: Record<string, WireTensor> }
}

/** One HTTPS request that trusts exactly `certPem` (the service's own certificate). */
export function httpsCall(
  url: string,
  options: { method: string; certPem: string; body?: string; authorization?: string },
): Promise<{ status: number; contentType: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: options.method,
        ca: options.certPem,
        headers: {
          ...(options.authorization === undefined ? {} : { authorization: options.authorization }),
          ...(options.body === undefined ? {} : { 'content-type': 'application/jose' }),
        },
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers['content-type']),
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        )
      },
    )
    req.on('error', reject)
    req.end(options.body)
  })
}
