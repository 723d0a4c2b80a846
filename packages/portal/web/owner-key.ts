// The custodian's owner key in the browser: imported from the CLI's key file (a private JWK,
// `subrosa owner keygen`) or generated here. The private key lives only in memory as a
// non-extractable CryptoKey; it is never stored, rendered or sent anywhere.
import { type CryptoKey, calculateJwkThumbprintUri, exportJWK, importJWK, type JWK } from 'jose'

/** A signed-in owner: its id (RFC 9278 thumbprint URI, as in policies) and signing key. */
export type OwnerSession = {
  readonly id: string
  readonly privateKey: CryptoKey
  readonly publicJwk: JWK
}

/** A freshly generated key: the session plus the two files to save (CLI format). */
export type GeneratedOwnerKey = {
  readonly session: OwnerSession
  readonly privateFile: string
  readonly publicFile: string
}

/** Thrown when a key file is not an owner private key; the message never contains key bytes. */
export class OwnerKeyError extends Error {
  override readonly name = 'OwnerKeyError'
}

function publicPart(jwk: JWK): JWK {
  const { kty, crv, x, y } = jwk
  return { kty, crv, x, y, alg: 'ES256' } as JWK
}

async function sessionOf(privateJwk: JWK): Promise<OwnerSession> {
  const publicJwk = publicPart(privateJwk)
  const privateKey = (await importJWK({ ...privateJwk, alg: 'ES256' }, 'ES256', {
    extractable: false,
  })) as CryptoKey
  return { id: await calculateJwkThumbprintUri(publicJwk, 'sha256'), privateKey, publicJwk }
}

/**
 * Import the text of a CLI owner key file (`owner.jwk`: EC P-256 private JWK). The clerk portal
 * imports its clerk key (`clerk.jwk`, same format) with it too.
 */
export async function importOwnerKey(text: string, file = 'owner.jwk'): Promise<OwnerSession> {
  let jwk: unknown
  try {
    jwk = JSON.parse(text)
  } catch {
    throw new OwnerKeyError(`The file is not JSON: choose the private key file (${file})`)
  }
  const k = jwk as Partial<Record<string, unknown>>
  if (typeof jwk !== 'object' || jwk === null || k.kty !== 'EC' || k.crv !== 'P-256')
    throw new OwnerKeyError('The file is not an EC P-256 JWK: the key must be ES256')
  if (typeof k.d !== 'string')
    throw new OwnerKeyError(`The file holds a public key only: choose the private key (${file})`)
  if (typeof k.x !== 'string' || typeof k.y !== 'string')
    throw new OwnerKeyError('The JWK lacks its x or y coordinate')
  try {
    return await sessionOf(jwk as JWK)
  } catch {
    throw new OwnerKeyError('The key does not import: the JWK is damaged')
  }
}

/** Generate an owner key (as `subrosa owner keygen`) and the files to save. */
export async function generateOwnerKey(): Promise<GeneratedOwnerKey> {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ])) as { privateKey: CryptoKey; publicKey: CryptoKey }
  const privateJwk = { ...(await exportJWK(pair.privateKey)), alg: 'ES256' }
  const session = await sessionOf(privateJwk)
  return {
    session,
    privateFile: `${JSON.stringify(privateJwk)}\n`,
    publicFile: `${JSON.stringify(session.publicJwk)}\n`,
  }
}
