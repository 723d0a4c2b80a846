import { type Clock, fromUtf8, type RandomBytes, toBase64Url, utf8 } from '@subrosa/core'
import { CryptoError, openSecret, sealSecret } from '@subrosa/crypto'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'
import { type CaMaterial, createCa } from './ca.ts'
import { BrokerError } from './errors.ts'
import type { Db } from './store/store.ts'

/** Long-lived key material of a running broker; only ever in memory in plaintext. */
export type BrokerKeys = {
  readonly rootKey: Uint8Array
  readonly signingKey: JWK
  readonly ca: CaMaterial
}

const ROOT = 'root-key'
const SIGNING = 'token-signing-key'
const CA_KEY = 'ca-key'
const CA_CERT = 'ca-cert'

/**
 * Unseal an initialized broker state, or initialize a new one: a random 32-byte root key sealed
 * under the operator's unseal key (AES-256-GCM), a token-signing key and a CA, both sealed under
 * the root key. Nothing is stored in plaintext but the CA certificate.
 *
 * @throws BrokerError `ERR_BROKER_UNSEAL` (wrong unseal key), `ERR_BROKER_STATE` (partial state).
 */
export async function initOrUnseal(
  db: Db,
  unsealKey: Uint8Array,
  clock: Clock,
  random: RandomBytes,
): Promise<BrokerKeys & { initialized: boolean }> {
  if (unsealKey.length !== 32)
    throw new BrokerError('ERR_BROKER_UNSEAL', 'The unseal key must be 32 bytes')
  const rows = (
    await db.query<{ name: string; value: Uint8Array }>('SELECT name, value FROM broker_state')
  ).rows
  const state = new Map(rows.map((r) => [r.name, r.value]))
  const sealedRoot = state.get(ROOT)
  if (sealedRoot === undefined) {
    if (state.size > 0)
      throw new BrokerError('ERR_BROKER_STATE', 'Broker state has keys but no root key')
    try {
      return { ...(await initialize(db, unsealKey, clock, random)), initialized: true }
    } catch (error) {
      // Another replica initialized the same store first: unseal what it stored.
      if ((error as { code?: unknown }).code === '23505')
        return initOrUnseal(db, unsealKey, clock, random)
      throw error
    }
  }
  let rootKey: Uint8Array
  try {
    rootKey = openSecret(unsealKey, sealedRoot, ROOT)
  } catch (cause) {
    if (cause instanceof CryptoError) {
      throw new BrokerError(
        'ERR_BROKER_UNSEAL',
        'Cannot unseal the broker: the unseal key does not open the root key',
        { cause },
      )
    }
    throw cause
  }
  const get = (name: string): Uint8Array => {
    const value = state.get(name)
    if (value === undefined) throw new BrokerError('ERR_BROKER_STATE', `Broker state lacks ${name}`)
    return value
  }
  return {
    rootKey,
    signingKey: JSON.parse(fromUtf8(openSecret(rootKey, get(SIGNING), SIGNING))) as JWK,
    ca: {
      certPem: fromUtf8(get(CA_CERT)),
      keyPem: fromUtf8(openSecret(rootKey, get(CA_KEY), CA_KEY)),
    },
    initialized: false,
  }
}

async function initialize(
  db: Db,
  unsealKey: Uint8Array,
  clock: Clock,
  random: RandomBytes,
): Promise<BrokerKeys> {
  const rootKey = random(32)
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = await exportJWK(privateKey)
  const signingKey: JWK = {
    ...jwk,
    alg: 'ES256',
    use: 'sig',
    kid: await calculateJwkThumbprint(jwk),
  }
  const ca = await createCa(clock(), random(16))
  await db.transaction(async (tx) => {
    const txPut = (name: string, value: Uint8Array) =>
      tx.query('INSERT INTO broker_state (name, value) VALUES ($1, $2)', [name, value])
    await txPut(ROOT, sealSecret(unsealKey, rootKey, ROOT, random))
    await txPut(SIGNING, sealSecret(rootKey, utf8(JSON.stringify(signingKey)), SIGNING, random))
    await txPut(CA_KEY, sealSecret(rootKey, utf8(ca.keyPem), CA_KEY, random))
    await txPut(CA_CERT, utf8(ca.certPem))
  })
  return { rootKey, signingKey, ca }
}

/** The public JWKS of the token-signing key. */
export function publicJwks(signingKey: JWK): { keys: JWK[] } {
  let jwks = jwksOf.get(signingKey)
  if (jwks === undefined) {
    const { d: _d, ...pub } = signingKey
    jwks = { keys: [pub] }
    jwksOf.set(signingKey, jwks)
  }
  return jwks
}

/** One JWKS object per signing key, so that token verification reuses its imported key. */
const jwksOf = new WeakMap<JWK, { keys: JWK[] }>()

/** A random identifier (base64url) for sessions, nonces and token ids. */
export function randomId(random: RandomBytes, bytes = 24): string {
  return toBase64Url(random(bytes))
}
