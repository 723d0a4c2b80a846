import { createHash } from 'node:crypto'
import { SdkError } from './errors.ts'

/**
 * Remembers token ids until they expire, so that a service accepts each token once. Both
 * implementations fail closed: when the cache cannot answer, the token is refused.
 */
export type ReplayCache = {
  /**
   * Record `id` until `expiresAt`. Returns true the first time, false when `id` is already
   * recorded (a replay).
   *
   * @throws SdkError `ERR_SDK_CACHE_UNAVAILABLE` when the cache cannot record it.
   */
  remember(id: string, expiresAt: Date, now: Date): Promise<boolean>
}

/**
 * An in-process replay cache: right for one replica. At `maxEntries` live ids it refuses new
 * ones (`ERR_SDK_CACHE_UNAVAILABLE`) rather than forget one early.
 */
export function createMemoryReplayCache(options: { maxEntries?: number } = {}): ReplayCache {
  const max = options.maxEntries ?? 100_000
  const seen = new Map<string, number>()
  const purge = (nowMs: number) => {
    for (const [id, until] of seen) if (until <= nowMs) seen.delete(id)
  }
  return {
    async remember(id, expiresAt, now) {
      const nowMs = now.getTime()
      const until = seen.get(id)
      if (until !== undefined && until > nowMs) return false
      if (seen.size >= max) purge(nowMs)
      if (seen.size >= max)
        throw new SdkError('ERR_SDK_CACHE_UNAVAILABLE', 'The replay cache is full')
      seen.set(id, expiresAt.getTime())
      return true
    },
  }
}

/** The one Redis command the Redis replay cache needs (an `@redis/client` client has it). */
export type RedisSetNx = {
  set(
    key: string,
    value: string,
    options: { condition: 'NX'; expiration: { type: 'PX'; value: number } },
  ): Promise<unknown>
}

/**
 * A replay cache shared by every replica through Redis: `SET <prefix><sha256(id)> 1 NX PX <ms
 * until expiry>`, atomic on the server. Ids are hashed, so keys have one length and alphabet.
 */
export function createRedisReplayCache(
  client: RedisSetNx,
  options: { prefix?: string } = {},
): ReplayCache {
  const prefix = options.prefix ?? 'subrosa:jti:'
  return {
    async remember(id, expiresAt, now) {
      const key = `${prefix}${createHash('sha256').update(id).digest('hex')}`
      const ms = Math.max(1000, expiresAt.getTime() - now.getTime())
      let answer: unknown
      try {
        answer = await client.set(key, '1', {
          condition: 'NX',
          expiration: { type: 'PX', value: ms },
        })
      } catch (cause) {
        throw new SdkError('ERR_SDK_CACHE_UNAVAILABLE', 'The Redis replay cache did not answer', {
          cause,
        })
      }
      return answer === 'OK'
    },
  }
}
