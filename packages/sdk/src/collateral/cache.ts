import { createHash } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fromBase64, toBase64, utf8 } from '@subrosa/core'
import { SdkError } from '../errors.ts'
import { createAtomicFileSink } from '../files.ts'

/** A successful collateral response, as fetched. */
export type CachedResponse = {
  readonly body: Uint8Array
  /** The response headers the client needs (issuer chains), lower-case names. */
  readonly headers: Readonly<Record<string, string>>
  readonly fetchedAt: Date
}

/**
 * Collateral responses keyed by URL. An entry expires `maxAgeSeconds` after it was fetched, and
 * never later than the item's own `nextUpdate` (TCB info, QE identity, CRL) or `notAfter`
 * (certificates) when the client knows it.
 */
export type CollateralCache = {
  get(url: string, now: Date): Promise<CachedResponse | undefined>
  set(url: string, response: CachedResponse, nextUpdate?: Date): Promise<void>
}

/** Options of {@link createCollateralCache}. */
export type CollateralCacheOptions = {
  /** Also keep entries as files under this directory (created 0700), so they survive restarts. */
  readonly dir?: string
  readonly maxAgeSeconds: number
}

type Entry = CachedResponse & { readonly expiresAt: number }

/**
 * An in-memory collateral cache, optionally persisted as one JSON file per URL (named by the
 * SHA-256 of the URL). Unreadable or foreign files are treated as misses, never as errors.
 *
 * @example
 * const cache = createCollateralCache({ dir: '/var/cache/subrosa', maxAgeSeconds: 86400 })
 *
 * @throws SdkError `ERR_SDK_CONFIG` when `maxAgeSeconds` is not a non-negative number.
 */
export function createCollateralCache(options: CollateralCacheOptions): CollateralCache {
  const { dir, maxAgeSeconds } = options
  if (!Number.isFinite(maxAgeSeconds) || maxAgeSeconds < 0) {
    throw new SdkError(
      'ERR_SDK_CONFIG',
      'Collateral cache maxAgeSeconds must be a non-negative number',
    )
  }
  const memory = new Map<string, Entry>()
  const fileOf = (url: string) =>
    dir === undefined
      ? undefined
      : join(dir, `${createHash('sha256').update(url).digest('hex')}.json`)

  return {
    async get(url, now) {
      const entry = memory.get(url) ?? (await load(fileOf(url), url))
      if (entry === undefined || now.getTime() >= entry.expiresAt) return undefined
      memory.set(url, entry)
      return { body: entry.body, headers: entry.headers, fetchedAt: entry.fetchedAt }
    },
    async set(url, response, nextUpdate) {
      let expiresAt = response.fetchedAt.getTime() + maxAgeSeconds * 1000
      if (nextUpdate !== undefined) expiresAt = Math.min(expiresAt, nextUpdate.getTime())
      const entry: Entry = { ...response, expiresAt }
      memory.set(url, entry)
      const file = fileOf(url)
      if (dir === undefined || file === undefined) return
      await mkdir(dir, { recursive: true, mode: 0o700 })
      const sink = await createAtomicFileSink(file, 0o600)
      try {
        await sink.write(utf8(JSON.stringify(serialize(url, entry))))
        await sink.commit()
      } catch (cause) {
        await sink.abort()
        throw cause
      }
    },
  }
}

function serialize(url: string, entry: Entry) {
  return {
    url,
    fetchedAt: entry.fetchedAt.toISOString(),
    expiresAt: new Date(entry.expiresAt).toISOString(),
    headers: entry.headers,
    body: toBase64(entry.body),
  }
}

async function load(file: string | undefined, url: string): Promise<Entry | undefined> {
  if (file === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'))
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined
  const record = parsed as Record<string, unknown>
  const { fetchedAt, expiresAt, headers, body } = record
  if (record.url !== url || typeof body !== 'string' || typeof fetchedAt !== 'string')
    return undefined
  if (typeof expiresAt !== 'string' || typeof headers !== 'object' || headers === null)
    return undefined
  const bytes = fromBase64(body)
  const fetched = Date.parse(fetchedAt)
  const expires = Date.parse(expiresAt)
  const entries = Object.entries(headers)
  if (bytes === undefined || Number.isNaN(fetched) || Number.isNaN(expires)) return undefined
  if (!entries.every(([, v]) => typeof v === 'string')) return undefined
  return {
    body: bytes,
    headers: Object.fromEntries(entries) as Record<string, string>,
    fetchedAt: new Date(fetched),
    expiresAt: expires,
  }
}
