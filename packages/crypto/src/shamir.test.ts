import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { systemRandom } from '@subrosa/core'
import {
  gfDiv,
  gfMul,
  interpolate,
  type ShamirShare,
  shamirCombine,
  shamirSplit,
} from './shamir.ts'

/** Every subset of `items` of size `size`. */
function subsets<T>(items: readonly T[], size: number): T[][] {
  if (size === 0) return [[]]
  const out: T[][] = []
  items.forEach((item, i) => {
    for (const rest of subsets(items.slice(i + 1), size - 1)) out.push([item, ...rest])
  })
  return out
}

/** A "random" source that hands out the given bytes, for exhaustive enumeration. */
function fixedRandom(bytes: readonly number[]) {
  let at = 0
  return (length: number) => {
    const out = Uint8Array.from(bytes.slice(at, at + length))
    at += length
    return out
  }
}

describe('GF(2^8) arithmetic (AES polynomial 0x11b)', () => {
  it('matches the FIPS-197 worked example and inverts', () => {
    assert.equal(gfMul(0x57, 0x83), 0xc1) // FIPS-197 section 4.2
    assert.equal(gfMul(0x57, 0x13), 0xfe)
    for (let a = 1; a < 256; a++) {
      assert.equal(gfMul(a, 1), a)
      assert.equal(gfMul(gfDiv(1, a), a), 1)
      for (const b of [1, 2, 3, 0x53, 0xff]) assert.equal(gfDiv(gfMul(a, b), b), a)
    }
    assert.equal(gfMul(0, 0x53), 0)
  })
})

describe('shamirSplit / shamirCombine', () => {
  const secret = systemRandom(32)

  it('rebuilds the secret from every k-subset of n shares', () => {
    for (const [k, n] of [
      [2, 3],
      [3, 5],
      [4, 6],
    ] as const) {
      const shares = shamirSplit(secret, k, n, systemRandom)
      assert.equal(shares.length, n)
      assert.deepEqual(
        shares.map((s) => s.index),
        Array.from({ length: n }, (_, i) => i + 1),
      )
      for (const subset of subsets(shares, k)) {
        assert.deepEqual(shamirCombine(subset), secret)
        assert.deepEqual(shamirCombine([...subset].reverse()), secret)
      }
      // More than k shares also rebuild it.
      assert.deepEqual(shamirCombine(shares), secret)
    }
  })

  it('gives a wrong value for every (k-1)-subset', () => {
    const shares = shamirSplit(secret, 3, 5, systemRandom)
    for (const subset of subsets(shares, 2)) assert.notDeepEqual(shamirCombine(subset), secret)
    for (const one of shares) assert.notDeepEqual(one.bytes, secret)
  })

  it('leaves every secret open to k-1 shares: each candidate has a completion', () => {
    // Any secret value at all, with the k-1 known shares, fixes a degree-(k-1) polynomial, so
    // the known shares are consistent with it: they cannot rule any candidate out.
    const shares = shamirSplit(secret, 3, 5, systemRandom)
    for (const subset of subsets(shares, 2)) {
      const missing = shares.find((s) => !subset.includes(s)) as ShamirShare
      for (let candidate = 0; candidate < 256; candidate++) {
        // The polynomials through (0, candidate) and the two known shares give a third share
        // that, with them, rebuilds `candidate` in every byte.
        const target = new Uint8Array(32).fill(candidate)
        const made = completeShare(subset, target, missing.index)
        assert.deepEqual(shamirCombine([...subset, made]), target)
      }
    }
  })

  it('k-1 shares are distributed independently of the secret (exhaustive, k = 2 and k = 3)', () => {
    // k = 2: over all 256 values of the random coefficient, share 1 takes each value once,
    // whatever the secret.
    for (const s of [0x00, 0x5a, 0xff]) {
      const counts = new Uint16Array(256)
      for (let a1 = 0; a1 < 256; a1++) {
        const shares = shamirSplit(Uint8Array.of(s), 2, 2, fixedRandom([a1]))
        const y = (shares[0] as ShamirShare).bytes[0] as number
        counts[y] = (counts[y] as number) + 1
      }
      assert.ok(counts.every((c) => c === 1))
    }
    // k = 3: over all 65,536 coefficient pairs, each pair of 2 shares (of 3) takes each of the
    // 65,536 value pairs exactly once, whatever the secret.
    for (const s of [0x00, 0xc3]) {
      const counts = [new Uint8Array(65536), new Uint8Array(65536), new Uint8Array(65536)] as const
      for (let a = 0; a < 65536; a++) {
        const shares = shamirSplit(Uint8Array.of(s), 3, 3, fixedRandom([a >> 8, a & 0xff]))
        const y = shares.map((x) => x.bytes[0] as number)
        const [y1, y2, y3] = y as [number, number, number]
        const bump = (c: Uint8Array, i: number) => {
          c[i] = (c[i] as number) + 1
        }
        bump(counts[0], (y1 << 8) | y2)
        bump(counts[1], (y1 << 8) | y3)
        bump(counts[2], (y2 << 8) | y3)
      }
      for (const c of counts) assert.ok(c.every((v) => v === 1))
    }
  })

  it('handles the edges k = 1, k = n and n = 255', () => {
    const one = shamirSplit(secret, 1, 3, systemRandom)
    for (const s of one) {
      assert.deepEqual(s.bytes, secret) // k = 1: each share is the secret itself
      assert.deepEqual(shamirCombine([s]), secret)
    }
    const all = shamirSplit(secret, 4, 4, systemRandom)
    assert.deepEqual(shamirCombine(all), secret)
    assert.notDeepEqual(shamirCombine(all.slice(1)), secret)
    const many = shamirSplit(secret, 200, 255, systemRandom)
    assert.equal(many.at(-1)?.index, 255)
    assert.deepEqual(shamirCombine(many.slice(55)), secret)
    assert.deepEqual(shamirCombine(many.slice(0, 200)), secret)
    assert.notDeepEqual(shamirCombine(many.slice(0, 199)), secret)
    const tiny = shamirSplit(Uint8Array.of(7), 1, 1, systemRandom)
    assert.deepEqual(tiny, [{ index: 1, bytes: Uint8Array.of(7) }])
  })

  it('refuses invalid parameters with ERR_CRYPTO_SHAMIR_PARAMS', () => {
    for (const [s, k, n] of [
      [new Uint8Array(0), 2, 3],
      [secret, 0, 3],
      [secret, 4, 3],
      [secret, 2, 0],
      [secret, 2, 256],
      [secret, 1.5, 3],
      [secret, 2, Number.NaN],
    ] as const) {
      assert.throws(() => shamirSplit(s, k, n, systemRandom), { code: 'ERR_CRYPTO_SHAMIR_PARAMS' })
    }
  })

  it('refuses duplicate, invalid or mismatched shares with ERR_CRYPTO_SHAMIR_SHARE', () => {
    const [a, b] = shamirSplit(secret, 2, 3, systemRandom) as [ShamirShare, ShamirShare]
    for (const bad of [
      [],
      [a, a],
      [a, { index: a.index, bytes: b.bytes }],
      [a, { index: 0, bytes: b.bytes }],
      [a, { index: 256, bytes: b.bytes }],
      [a, { index: -1, bytes: b.bytes }],
      [a, { index: 2.5, bytes: b.bytes }],
      [a, { index: b.index, bytes: b.bytes.subarray(1) }],
      [{ index: 1, bytes: new Uint8Array(0) }],
    ]) {
      assert.throws(() => shamirCombine(bad), { code: 'ERR_CRYPTO_SHAMIR_SHARE' })
    }
  })
})

/** The share at `x` of the polynomials through (0, secret) and `known` (a Shamir completion). */
function completeShare(known: readonly ShamirShare[], secret: Uint8Array, x: number): ShamirShare {
  return { index: x, bytes: interpolate([{ index: 0, bytes: secret }, ...known], x) }
}
