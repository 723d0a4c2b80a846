import { createHmac } from 'node:crypto'
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
/** Present when the sealed root key is wrapped once more by the operator's KEK. */
export const ROOT_KEK_LAYER = 'root-key-kek'
/** HMAC-SHA256(root key, "subrosa root key check"): tells a right reconstruction from a wrong one. */
export const ROOT_CHECK = 'root-key-check'
const KEK_CONTEXT = 'root-key+kek'
const KEK_LAYER_V1 = 'unseal-key-then-kek-v1'
const SIGNING = 'token-signing-key'
const CA_KEY = 'ca-key'
const CA_CERT = 'ca-cert'

/** Operator-held protection of the root key beyond the unseal key (docs/adr/0011). */
export type RootKeyProtection = {
  /** 32-byte key-encryption key: wraps the root key sealed by the unseal key. */
  readonly kek?: Uint8Array | undefined
}

/**
 * Unseal an initialized broker state, or initialize a new one: a random 32-byte root key sealed
 * under the operator's unseal key (AES-256-GCM) and, with a KEK, sealed once more under the KEK;
 * a token-signing key and a CA, both sealed under the root key. Nothing is stored in plaintext
 * but the CA certificate and the root key's check value.
 *
 * @throws BrokerError `ERR_BROKER_UNSEAL` (wrong unseal key), `ERR_BROKER_KEK` (KEK missing,
 * wrong or not configured), `ERR_BROKER_STATE` (partial state).
 */
export async function initOrUnseal(
  db: Db,
  unsealKey: Uint8Array,
  clock: Clock,
  random: RandomBytes,
  protection: RootKeyProtection = {},
): Promise<BrokerKeys & { initialized: boolean }> {
  if (unsealKey.length !== 32)
    throw new BrokerError('ERR_BROKER_UNSEAL', 'The unseal key must be 32 bytes')
  checkKek(protection.kek)
  const rows = (
    await db.query<{ name: string; value: Uint8Array }>('SELECT name, value FROM broker_state')
  ).rows
  const state = new Map(rows.map((r) => [r.name, r.value]))
  const sealedRoot = state.get(ROOT)
  if (sealedRoot === undefined) {
    if (state.size > 0)
      throw new BrokerError('ERR_BROKER_STATE', 'Broker state has keys but no root key')
    try {
      return {
        ...(await initialize(db, unsealKey, protection.kek, clock, random)),
        initialized: true,
      }
    } catch (error) {
      // Another replica initialized the same store first: unseal what it stored.
      if ((error as { code?: unknown }).code === '23505')
        return initOrUnseal(db, unsealKey, clock, random, protection)
      throw error
    }
  }
  const rootKey = openRootKey(sealedRoot, unsealKey, protection.kek, state.has(ROOT_KEK_LAYER))
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
  kek: Uint8Array | undefined,
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
    await txPut(ROOT, sealRootKey(rootKey, unsealKey, kek, random))
    if (kek !== undefined) await txPut(ROOT_KEK_LAYER, utf8(KEK_LAYER_V1))
    await txPut(ROOT_CHECK, rootKeyCheck(rootKey))
    await txPut(SIGNING, sealSecret(rootKey, utf8(JSON.stringify(signingKey)), SIGNING, random))
    await txPut(CA_KEY, sealSecret(rootKey, utf8(ca.keyPem), CA_KEY, random))
    await txPut(CA_CERT, utf8(ca.certPem))
  })
  return { rootKey, signingKey, ca }
}

/**
 * The stored form of the root key: `sealSecret(unsealKey, rootKey, 'root-key')`, and with a KEK
 * that sealed value sealed again: `sealSecret(kek, <that>, 'root-key+kek')`.
 */
export function sealRootKey(
  rootKey: Uint8Array,
  unsealKey: Uint8Array,
  kek: Uint8Array | undefined,
  random: RandomBytes,
): Uint8Array {
  const inner = sealSecret(unsealKey, rootKey, ROOT, random)
  return kek === undefined ? inner : sealSecret(kek, inner, KEK_CONTEXT, random)
}

/**
 * Open the stored root key: the KEK layer first (when the state has one), then the unseal key.
 *
 * @throws BrokerError `ERR_BROKER_KEK`, `ERR_BROKER_UNSEAL`.
 */
export function openRootKey(
  sealed: Uint8Array,
  unsealKey: Uint8Array,
  kek: Uint8Array | undefined,
  kekLayer: boolean,
): Uint8Array {
  let inner = sealed
  if (kekLayer) {
    if (kek === undefined)
      throw new BrokerError(
        'ERR_BROKER_KEK',
        'This broker state is protected by a key-encryption key; supply it (--kek-file)',
      )
    try {
      inner = openSecret(kek, sealed, KEK_CONTEXT)
    } catch (cause) {
      if (!(cause instanceof CryptoError)) throw cause
      throw new BrokerError('ERR_BROKER_KEK', 'The key-encryption key does not open the root key', {
        cause,
      })
    }
  } else if (kek !== undefined) {
    throw new BrokerError(
      'ERR_BROKER_KEK',
      'A key-encryption key was given but this broker state has none (add one with broker recover)',
    )
  }
  try {
    return openSecret(unsealKey, inner, ROOT)
  } catch (cause) {
    if (!(cause instanceof CryptoError)) throw cause
    throw new BrokerError(
      'ERR_BROKER_UNSEAL',
      'Cannot unseal the broker: the unseal key does not open the root key',
      { cause },
    )
  }
}

/** The root key's check value: HMAC-SHA256(rootKey, "subrosa root key check"). */
export function rootKeyCheck(rootKey: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', rootKey).update('subrosa root key check').digest())
}

/** The state rows that change when the root key is re-sealed (recovery). */
export function rootKeyRows(
  rootKey: Uint8Array,
  unsealKey: Uint8Array,
  kek: Uint8Array | undefined,
  random: RandomBytes,
): { name: string; value: Uint8Array | undefined }[] {
  return [
    { name: ROOT, value: sealRootKey(rootKey, unsealKey, kek, random) },
    { name: ROOT_KEK_LAYER, value: kek === undefined ? undefined : utf8(KEK_LAYER_V1) },
    { name: ROOT_CHECK, value: rootKeyCheck(rootKey) },
  ]
}

function checkKek(kek: Uint8Array | undefined): void {
  if (kek !== undefined && kek.length !== 32)
    throw new BrokerError('ERR_BROKER_KEK', 'The key-encryption key must be 32 bytes')
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
