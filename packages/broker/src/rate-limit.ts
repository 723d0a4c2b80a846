import { BrokerError } from './errors.ts'

/** A token bucket: `perSecond` tokens refill each second, up to `burst` saved. */
export type RateLimit = { readonly perSecond: number; readonly burst: number }

/** Keys kept at most; beyond, buckets that have refilled completely are forgotten first. */
const MAX_KEYS = 50_000

/**
 * Token buckets per client key (an IP address, an owner id), in this process's memory: with N
 * replicas a client gets up to N times the rate. `now` is a monotonic clock in milliseconds.
 */
export class RateLimiter {
  readonly #limit: RateLimit
  readonly #now: () => number
  readonly #buckets = new Map<string, { tokens: number; at: number }>()

  constructor(limit: RateLimit, now: () => number = () => performance.now()) {
    if (!(limit.perSecond > 0) || !(limit.burst >= 1))
      throw new RangeError('A rate limit needs perSecond > 0 and burst >= 1')
    this.#limit = limit
    this.#now = now
  }

  /**
   * Take one token for `key`; when none is left, the seconds until one is (for `Retry-After`).
   */
  take(key: string): { ok: true } | { ok: false; retryAfterSeconds: number } {
    const now = this.#now()
    const { perSecond, burst } = this.#limit
    const b = this.#buckets.get(key)
    const tokens =
      b === undefined ? burst : Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond)
    if (tokens >= 1) {
      if (b === undefined && this.#buckets.size >= MAX_KEYS) this.#sweep(now)
      this.#buckets.delete(key)
      this.#buckets.set(key, { tokens: tokens - 1, at: now })
      return { ok: true }
    }
    this.#buckets.set(key, { tokens, at: now })
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - tokens) / perSecond)) }
  }

  /** Number of keys tracked (bounded by {@link MAX_KEYS}). */
  get size(): number {
    return this.#buckets.size
  }

  #sweep(now: number): void {
    const { perSecond, burst } = this.#limit
    for (const [k, b] of this.#buckets)
      if (b.tokens + ((now - b.at) / 1000) * perSecond >= burst) this.#buckets.delete(k)
    // Still full: forget the least recently used half (a Map iterates in insertion order).
    if (this.#buckets.size >= MAX_KEYS) {
      let drop = this.#buckets.size / 2
      for (const k of this.#buckets.keys()) {
        if (drop-- <= 0) break
        this.#buckets.delete(k)
      }
    }
  }
}

/**
 * Parse `<n>/s`, `<n>/m` (or `/min`), `<n>` (per second), optionally `,burst=<b>`; `off` or `0`
 * disables. Burst defaults to one second's worth (at least 1).
 *
 * @throws BrokerError `ERR_BROKER_CONFIG` on anything else.
 */
export function parseRateLimit(text: string): RateLimit | undefined {
  const m =
    /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(s|sec|second|m|min|minute))?\s*(?:,\s*burst\s*=\s*(\d+))?\s*$/i.exec(
      text,
    )
  if (text.trim() === 'off') return undefined
  if (m === null)
    throw new BrokerError(
      'ERR_BROKER_CONFIG',
      'A rate limit is <n>/s or <n>/min, optionally ",burst=<n>", or "off"',
    )
  const n = Number(m[1])
  if (n === 0) return undefined
  const perSecond = /^m/i.test(m[2] ?? 's') ? n / 60 : n
  const burst = m[3] === undefined ? Math.max(1, Math.ceil(perSecond)) : Number(m[3])
  if (burst < 1) throw new BrokerError('ERR_BROKER_CONFIG', 'A rate limit burst must be >= 1')
  return { perSecond, burst }
}
