import type { RandomBytes } from '@subrosa/core'
import { CryptoError } from './errors.ts'

/** One Shamir share: the x coordinate (1..255) and one polynomial value per secret byte. */
export type ShamirShare = { readonly index: number; readonly bytes: Uint8Array }

// GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b); 0x03 generates the
// multiplicative group. EXP is doubled so a sum of two logs needs no reduction mod 255.
const EXP = new Uint8Array(510)
const LOG = new Uint8Array(256)
{
  let x = 1
  for (let i = 0; i < 255; i++) {
    EXP[i] = x
    EXP[i + 255] = x
    LOG[x] = i
    x ^= (x << 1) ^ (x & 0x80 ? 0x11b : 0)
  }
}

/** Multiplication in GF(2^8). */
export function gfMul(a: number, b: number): number {
  if (a === 0 || b === 0) return 0
  return EXP[(LOG[a] as number) + (LOG[b] as number)] as number
}

/** Division in GF(2^8); `b` is never 0 here (distinct x coordinates). */
export function gfDiv(a: number, b: number): number {
  if (a === 0) return 0
  return EXP[(LOG[a] as number) + 255 - (LOG[b] as number)] as number
}

/**
 * Split `secret` into `n` shares of which any `k` rebuild it (Shamir's scheme over GF(2^8),
 * byte-wise: each secret byte is the constant term of its own random polynomial of degree
 * `k - 1`; share `i` holds the polynomials' values at `x = i`, for `i = 1..n`). Fewer than `k`
 * shares are consistent with every possible secret, so they reveal nothing about it. With
 * `k = 1` every share IS the secret.
 *
 * @example const shares = shamirSplit(rootKey, 2, 3, systemRandom) // any 2 of the 3 rebuild it
 * @throws CryptoError `ERR_CRYPTO_SHAMIR_PARAMS` when the secret is empty or not
 * `1 <= k <= n <= 255`.
 */
export function shamirSplit(
  secret: Uint8Array,
  k: number,
  n: number,
  random: RandomBytes,
): ShamirShare[] {
  if (secret.length === 0) throw params('the secret is empty')
  if (!Number.isInteger(n) || n < 1 || n > 255) throw params('n must be an integer in 1..255')
  if (!Number.isInteger(k) || k < 1 || k > n) throw params('k must be an integer in 1..n')
  const shares = Array.from({ length: n }, (_, i) => ({
    index: i + 1,
    bytes: new Uint8Array(secret.length),
  }))
  const coefficients = new Uint8Array(k)
  for (let b = 0; b < secret.length; b++) {
    coefficients[0] = secret[b] as number
    if (k > 1) coefficients.set(random(k - 1), 1)
    for (const share of shares) {
      // Horner: a0 + x(a1 + x(a2 + ...)).
      let y = 0
      for (let c = k - 1; c >= 0; c--) y = gfMul(y, share.index) ^ (coefficients[c] as number)
      share.bytes[b] = y
    }
  }
  coefficients.fill(0)
  return shares
}

/**
 * Rebuild the secret from shares made by {@link shamirSplit} (Lagrange interpolation at 0).
 * Shamir's scheme cannot tell from the shares alone whether there are enough of them: fewer
 * than `k` give a wrong value, so callers check the result (the broker keeps a key check value).
 *
 * @example const secret = shamirCombine([shares[0], shares[2]])
 * @throws CryptoError `ERR_CRYPTO_SHAMIR_SHARE` for no shares, an index outside 1..255, a
 * repeated index, or shares of different lengths.
 */
export function shamirCombine(shares: readonly ShamirShare[]): Uint8Array {
  checkShares(shares, 1)
  return interpolate(shares, 0)
}

/**
 * The value at `x` of the polynomials through the given points (distinct x in 0..255); at 0,
 * the secret. Exposed for tests that show what fewer than `k` shares leave open.
 *
 * @throws CryptoError `ERR_CRYPTO_SHAMIR_SHARE` as {@link shamirCombine}.
 */
export function interpolate(shares: readonly ShamirShare[], x: number): Uint8Array {
  checkShares(shares, 0)
  const length = (shares[0] as ShamirShare).bytes.length
  const out = new Uint8Array(length)
  for (const si of shares) {
    // Lagrange basis l_i(x) = prod_{j != i} (x - x_j) / (x_i - x_j); minus is XOR in GF(2^8).
    let basis = 1
    for (const sj of shares) {
      if (sj === si) continue
      basis = gfMul(basis, gfDiv(x ^ sj.index, si.index ^ sj.index))
    }
    for (let b = 0; b < length; b++)
      out[b] = (out[b] as number) ^ gfMul(si.bytes[b] as number, basis)
  }
  return out
}

function checkShares(shares: readonly ShamirShare[], lowest: number): void {
  if (shares.length === 0) throw share('no shares given', {})
  const seen = new Set<number>()
  const length = (shares[0] as ShamirShare).bytes.length
  for (const s of shares) {
    if (!Number.isInteger(s.index) || s.index < lowest || s.index > 255)
      throw share(`a share index must be an integer in ${lowest}..255`, { index: String(s.index) })
    if (seen.has(s.index)) throw share(`share ${s.index} is given twice`, { index: s.index })
    seen.add(s.index)
    if (s.bytes.length !== length || length === 0)
      throw share('shares have different or zero lengths', { index: s.index })
  }
}

function params(why: string): CryptoError {
  return new CryptoError('ERR_CRYPTO_SHAMIR_PARAMS', `Cannot split the secret: ${why}`)
}

function share(why: string, details: Record<string, string | number>): CryptoError {
  return new CryptoError('ERR_CRYPTO_SHAMIR_SHARE', `Cannot combine shares: ${why}`, { details })
}
