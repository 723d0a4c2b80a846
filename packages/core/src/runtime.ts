import { randomBytes as nodeRandomBytes } from 'node:crypto'

/** The current time, injected so verifiers and stores never read the wall clock themselves. */
export type Clock = () => Date

/** A source of cryptographically secure random bytes, injected for the same reason. */
export type RandomBytes = (length: number) => Uint8Array

/** The system clock; apps pass it in, libraries take a `Clock`. */
export const systemClock: Clock = () => new Date()

/** Bytes drawn from the CSPRNG at once, then handed out in order, each byte once. */
const POOL_SIZE = 4096
/** Requests at least this long go to the CSPRNG directly. */
const DIRECT = 256
let pool = new Uint8Array(0)
let offset = 0

/**
 * The system CSPRNG. Short requests are served from a 4 KiB block drawn at once, as Node does for
 * `randomUUID`: each call into OpenSSL's generator costs a fixed 4 µs or more on some virtual
 * machines, whatever its length, and the broker asks for a few dozen bytes several times per
 * request (ADR 0033). Bytes handed out are zeroed in the block; none is returned twice.
 */
export const systemRandom: RandomBytes = (length) => {
  if (!Number.isSafeInteger(length) || length < 0 || length >= DIRECT)
    return new Uint8Array(nodeRandomBytes(length))
  if (offset + length > pool.length) {
    pool.fill(0)
    pool = new Uint8Array(nodeRandomBytes(POOL_SIZE))
    offset = 0
  }
  const out = pool.slice(offset, offset + length)
  pool.fill(0, offset, offset + length)
  offset += length
  return out
}
