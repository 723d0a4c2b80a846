// A test client of the healthcare API's clerk route (what the portal's web/clerk.ts does in the
// browser), for the end-to-end test: a record sealed to the API's attested key, a clerk proof,
// and one HTTPS request. The API's certificate is trusted through its token, not a CA.
import { createHash, randomUUID } from 'node:crypto'
import { request as httpsRequest } from 'node:https'
import { type EarClaims, teePublicKeyOf } from '@subrosa/protocol'
import {
  CompactEncrypt,
  type CryptoKey,
  calculateJwkThumbprint,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose'
import type { ApiService } from '../../../../examples/healthcare/api-service.ts'
import { CLERK_PROOF_TYP, CLERK_RECORDS_PATH } from '../../../../examples/healthcare/clerk-auth.ts'
import type { PatientRecord } from '../../../../examples/healthcare/record.ts'

/** One request to the API's clerk route (its certificate is pinned by its token, not a CA). */
export function callClerkRoute(
  api: ApiService,
  method: 'OPTIONS' | 'POST',
  headers: Record<string, string>,
  body = '',
): Promise<{
  status: number
  headers: Record<string, unknown>
  text: string
  json: { code?: string }
}> {
  const { hostname, port } = new URL(api.url)
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: hostname,
        port,
        method,
        path: CLERK_RECORDS_PATH,
        headers,
        rejectUnauthorized: false,
      },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          let json: { code?: string } = {}
          try {
            json = JSON.parse(text) as { code?: string }
          } catch {
            // A JWE answer.
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

/** A record as the clerk portal sends it: JWE to the API's attested key, and a clerk proof. */
export async function sealForClerk(
  api: ApiService,
  record: PatientRecord,
  signer: CryptoKey,
  listed: JWK,
): Promise<{ jwe: string; replyKey: CryptoKey; headers: Record<string, string> }> {
  const key = teePublicKeyOf(decodeJwt(api.token()) as unknown as EarClaims)
  const reply = await generateKeyPair('ECDH-ES+A256KW')
  const { kty, crv, x, y } = await exportJWK(reply.publicKey)
  const jwe = await new CompactEncrypt(
    new TextEncoder().encode(JSON.stringify({ ...record, replyKey: { kty, crv, x, y } })),
  )
    .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
    .encrypt(await importJWK({ kty: key.kty, crv: key.crv, x: key.x, y: key.y }, 'ECDH-ES+A256KW'))
  const bsh = createHash('sha256').update(jwe).digest('base64url')
  const proof = await new SignJWT({ bsh })
    .setProtectedHeader({
      alg: 'ES256',
      typ: CLERK_PROOF_TYP,
      kid: await calculateJwkThumbprint(listed),
    })
    .setAudience('api')
    .setIssuedAt()
    .setExpirationTime('60s')
    .setJti(randomUUID())
    .sign(signer)
  return {
    jwe,
    replyKey: reply.privateKey,
    headers: { authorization: `Bearer ${proof}`, 'content-type': 'application/jose' },
  }
}
