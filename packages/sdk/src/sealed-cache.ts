import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto'
import { isIP } from 'node:net'
import { createClient, RESP_TYPES } from '@redis/client'
import { utf8 } from '@subrosa/core'
import { SdkError } from './errors.ts'

/** First byte of every sealed value: format 1 = AES-256-GCM, 96-bit IV, 128-bit tag. */
const FORMAT_V1 = 0x01
const IV_BYTES = 12
const TAG_BYTES = 16
const MAX_NAME_BYTES = 1024

/** The two keys of a sealed cache: one seals values, the other names keys. */
export type SealedCacheKeys = {
  /** 32-byte AES-256-GCM key for values. */
  readonly sealKey: Uint8Array
  /** 32-byte HMAC-SHA256 key for key names. */
  readonly namingKey: Uint8Array
}

/**
 * Derive independent seal and naming keys from one 32-byte secret (for example a policy secret
 * the broker releases to the workload) with HKDF-SHA256.
 *
 * @throws SdkError `ERR_SDK_CONFIG` when the secret is not 32 bytes.
 */
export function deriveSealedCacheKeys(secret: Uint8Array): SealedCacheKeys {
  if (secret.length !== 32)
    throw new SdkError('ERR_SDK_CONFIG', 'The cache secret must be 32 bytes')
  const derive = (info: string) =>
    new Uint8Array(
      hkdfSync('sha256', secret, new Uint8Array(), `subrosa sealed-cache v1 ${info}`, 32),
    )
  return { sealKey: derive('seal'), namingKey: derive('name') }
}

/**
 * The name Redis sees for a logical key: `<prefix>` + hex HMAC-SHA256(namingKey, name). Equal
 * names map to equal pseudonyms, so Redis sees which entry is read, never what it is called.
 */
export function sealedKeyName(keys: SealedCacheKeys, name: string, prefix = 'subrosa:c:'): string {
  const bytes = checkName(name)
  checkKey(keys.namingKey, 'naming')
  return `${prefix}${createHmac('sha256', keys.namingKey).update(bytes).digest('hex')}`
}

/**
 * Seal a value for the logical key `name`: `0x01 ‖ IV ‖ ciphertext ‖ tag`, AES-256-GCM with a
 * random IV and AAD = `0x01 ‖ UTF-8 name`, so a value moved to another key does not open.
 */
export function sealCacheValue(
  keys: SealedCacheKeys,
  name: string,
  value: Uint8Array,
  random: (n: number) => Uint8Array = (n) => new Uint8Array(randomBytes(n)),
): Uint8Array {
  checkKey(keys.sealKey, 'seal')
  const iv = random(IV_BYTES)
  const cipher = createCipheriv('aes-256-gcm', keys.sealKey, iv, { authTagLength: TAG_BYTES })
  cipher.setAAD(aadOf(name))
  const body = Buffer.concat([cipher.update(value), cipher.final()])
  const out = new Uint8Array(1 + IV_BYTES + body.length + TAG_BYTES)
  out[0] = FORMAT_V1
  out.set(iv, 1)
  out.set(body, 1 + IV_BYTES)
  out.set(cipher.getAuthTag(), 1 + IV_BYTES + body.length)
  return out
}

/**
 * Open a value sealed by {@link sealCacheValue} for the same logical key.
 *
 * @throws SdkError `ERR_SDK_CACHE_OPEN` when it was sealed for another key, with another key,
 * or was changed.
 */
export function openCacheValue(
  keys: SealedCacheKeys,
  name: string,
  sealed: Uint8Array,
): Uint8Array {
  checkKey(keys.sealKey, 'seal')
  if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== FORMAT_V1)
    throw new SdkError('ERR_SDK_CACHE_OPEN', 'A cached value is not a sealed value of format 1')
  const iv = sealed.subarray(1, 1 + IV_BYTES)
  const tag = sealed.subarray(sealed.length - TAG_BYTES)
  const body = sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.sealKey, iv, { authTagLength: TAG_BYTES })
    decipher.setAAD(aadOf(name))
    decipher.setAuthTag(tag)
    return new Uint8Array(Buffer.concat([decipher.update(body), decipher.final()]))
  } catch (cause) {
    throw new SdkError(
      'ERR_SDK_CACHE_OPEN',
      'A cached value does not open under its key (changed, moved from another key, or sealed with another key)',
      { cause },
    )
  }
}

/** Where the cache is and the TLS material to reach it (PEM; certificates from the broker CA). */
export type SealedCacheOptions = {
  readonly host: string
  readonly port: number
  /** The CA that issued the Redis server certificate (pinned: no other CA is trusted). */
  readonly caPem: string
  /** This client's certificate and key, for Redis's `tls-auth-clients yes`. */
  readonly certPem: string
  readonly keyPem: string
  /** Name to check in the server certificate (default: `host`). */
  readonly servername?: string
  readonly keys: SealedCacheKeys
  /** Prefix of every Redis key (default `subrosa:c:`). */
  readonly prefix?: string
  readonly connectTimeoutMs?: number
}

/** A Redis cache that only ever sends Redis sealed values under pseudonymous names. */
export type SealedCache = {
  /** Store `value` under `name` for `ttlSeconds` (required: nothing is cached forever). */
  set(name: string, value: Uint8Array, options: { ttlSeconds: number }): Promise<void>
  /** The value stored under `name`, or undefined when absent or expired. */
  get(name: string): Promise<Uint8Array | undefined>
  /** Remove `name`; true when it was there. */
  delete(name: string): Promise<boolean>
  /** The Redis key `name` is stored under (for operators; it reveals nothing of `name`). */
  keyOf(name: string): string
  close(): Promise<void>
}

/**
 * Connect to Redis over mutual TLS and return a sealed cache.
 *
 * @example
 * const cache = await connectSealedCache({ host: '127.0.0.1', port: 6380, caPem, certPem, keyPem,
 *   keys: deriveSealedCacheKeys(secret) })
 * await cache.set('patient:42', utf8(record), { ttlSeconds: 600 })
 * @throws SdkError `ERR_SDK_CACHE_UNAVAILABLE` (unreachable, TLS refused either way),
 * `ERR_SDK_CACHE_OPEN` (from `get`), `ERR_SDK_CONFIG`.
 */
export async function connectSealedCache(options: SealedCacheOptions): Promise<SealedCache> {
  checkKey(options.keys.sealKey, 'seal')
  checkKey(options.keys.namingKey, 'naming')
  const prefix = options.prefix ?? 'subrosa:c:'
  let connected = false
  const client = createClient({
    socket: {
      host: options.host,
      port: options.port,
      tls: true,
      ca: options.caPem,
      cert: options.certPem,
      key: options.keyPem,
      // SNI cannot carry an IP address; the certificate is then checked against the IP SAN.
      ...(isIP(options.servername ?? options.host) === 0
        ? { servername: options.servername ?? options.host }
        : {}),
      minVersion: 'TLSv1.2',
      connectTimeout: options.connectTimeoutMs ?? 5000,
      // The first connection fails fast (a refused certificate will not get better); once
      // connected, a dropped connection is retried with capped backoff.
      reconnectStrategy: (retries: number, cause: Error) =>
        connected ? Math.min(50 * 2 ** retries, 2000) : cause,
    },
    // While disconnected, commands fail at once (ERR_SDK_CACHE_UNAVAILABLE) instead of queueing.
    disableOfflineQueue: true,
    // No client name, no library name: Redis learns nothing it does not need.
    disableClientInfo: true,
  }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
  // Errors surface through the commands that meet them; without a listener they would crash.
  client.on('error', () => {})
  try {
    await client.connect()
    await client.ping()
    connected = true
  } catch (cause) {
    client.destroy()
    throw unavailable('Cannot open a mutually authenticated TLS connection to Redis', cause)
  }
  const keyOf = (name: string) => sealedKeyName(options.keys, name, prefix)
  const run = async <T>(what: string, command: () => Promise<T>): Promise<T> => {
    try {
      return await command()
    } catch (cause) {
      throw unavailable(`Redis did not ${what}`, cause)
    }
  }
  return {
    keyOf,
    async set(name, value, { ttlSeconds }) {
      if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1)
        throw new SdkError('ERR_SDK_CONFIG', 'ttlSeconds must be a positive integer')
      const sealed = sealCacheValue(options.keys, name, value)
      await run('store the value', () =>
        client.set(keyOf(name), Buffer.from(sealed), {
          expiration: { type: 'EX', value: ttlSeconds },
        }),
      )
    },
    async get(name) {
      const key = keyOf(name)
      const stored = await run('answer', () => client.get(key))
      if (stored === null) return undefined
      return openCacheValue(options.keys, name, new Uint8Array(stored))
    },
    async delete(name) {
      return (await run('delete', () => client.del(keyOf(name)))) > 0
    },
    async close() {
      if (client.isOpen) await client.close()
    },
  }
}

function aadOf(name: string): Uint8Array {
  const bytes = checkName(name)
  const aad = new Uint8Array(1 + bytes.length)
  aad[0] = FORMAT_V1
  aad.set(bytes, 1)
  return aad
}

function checkName(name: string): Uint8Array {
  const bytes = utf8(name)
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES)
    throw new SdkError('ERR_SDK_CONFIG', `Cache key names are 1..${MAX_NAME_BYTES} bytes`)
  return bytes
}

function checkKey(key: Uint8Array, what: string): void {
  // timingSafeEqual needs equal lengths: a cheap guard that the key is a real 32-byte key.
  if (key.length !== 32 || timingSafeEqual(key, new Uint8Array(32)))
    throw new SdkError('ERR_SDK_CONFIG', `The cache ${what} key must be 32 non-zero bytes`)
}

function unavailable(message: string, cause: unknown): SdkError {
  const code = (cause as { code?: unknown } | null)?.code
  return new SdkError(
    'ERR_SDK_CACHE_UNAVAILABLE',
    typeof code === 'string' ? `${message} (${code})` : message,
    { cause },
  )
}
