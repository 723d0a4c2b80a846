// Always Encrypted cells against the tedious vectors, read in place from
// ../shared/vectors/always-encrypted (never copied), plus tampering and IV behaviour.
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { describe, it, type TestContext } from 'node:test'
import { fromHex, toHex } from '@subrosa/core'
import { decryptCell, encryptCell, MIN_CELL_LENGTH } from './cell.ts'
import { deriveCellKeys } from './keys.ts'

const VECTORS =
  process.env.SUBROSA_VECTORS === undefined
    ? new URL('../../../../../shared/vectors/always-encrypted/vectors.json', import.meta.url)
    : new URL(
        `file://${process.env.SUBROSA_VECTORS.replace(/\/?$/, '/')}always-encrypted/vectors.json`,
      )

type Vectors = {
  cek: string
  derived: { encKey: string; macKey: string; ivKey: string }
  cases: { name: string; plaintextHex: string; ivHex?: string; ciphertextHex: string }[]
}

function vectors(t: TestContext): Vectors | undefined {
  if (existsSync(VECTORS)) return JSON.parse(readFileSync(VECTORS, 'utf8')) as Vectors
  t.skip(
    `Always Encrypted vectors absent (${VECTORS.pathname}): set SUBROSA_VECTORS or provide ../shared/vectors`,
  )
  return undefined
}

const hex = (text: string) => fromHex(text.toLowerCase()) ?? assert.fail(`bad hex ${text}`)
const cek = new Uint8Array(32).map((_, i) => i * 7 + 1)

describe('Always Encrypted cells', () => {
  it('derives the encryption, MAC and IV keys of the vectors', (t) => {
    const v = vectors(t)
    if (v === undefined) return
    const keys = deriveCellKeys(hex(v.cek))
    assert.equal(toHex(keys.encKey), v.derived.encKey.toLowerCase())
    assert.equal(toHex(keys.macKey), v.derived.macKey.toLowerCase())
    assert.equal(toHex(keys.ivKey), v.derived.ivKey.toLowerCase())
  })

  it('encrypts and decrypts every vector case byte for byte', (t) => {
    const v = vectors(t)
    if (v === undefined) return
    assert.ok(v.cases.length >= 2)
    const keys = deriveCellKeys(hex(v.cek))
    for (const c of v.cases) {
      const plaintext = hex(c.plaintextHex)
      const iv = c.ivHex === undefined ? undefined : hex(c.ivHex)
      const cell =
        iv === undefined
          ? encryptCell(keys, plaintext, 'deterministic')
          : encryptCell(keys, plaintext, 'randomized', (n) => {
              assert.equal(n, 16)
              return iv
            })
      assert.equal(toHex(cell), c.ciphertextHex.toLowerCase(), c.name)
      assert.deepEqual(decryptCell(keys, hex(c.ciphertextHex)), plaintext, c.name)
    }
  })

  it('rejects a CEK that is not 32 bytes', () => {
    assert.throws(() => deriveCellKeys(new Uint8Array(16)), { code: 'ERR_CRYPTO_KEY_LENGTH' })
  })

  it('gives equal cells for equal values when deterministic, different ones when randomized', () => {
    const keys = deriveCellKeys(cek)
    const value = new TextEncoder().encode('same value')
    const a = encryptCell(keys, value, 'deterministic')
    assert.deepEqual(encryptCell(keys, value, 'deterministic'), a)
    assert.notDeepEqual(
      encryptCell(keys, new TextEncoder().encode('other value'), 'deterministic'),
      a,
    )
    const r1 = encryptCell(keys, value, 'randomized')
    const r2 = encryptCell(keys, value, 'randomized')
    assert.notDeepEqual(r1, r2)
    assert.notDeepEqual(r1, a)
    assert.deepEqual(decryptCell(keys, r1), value)
    assert.deepEqual(decryptCell(keys, r2), value)
    assert.equal(encryptCell(keys, new Uint8Array(0), 'randomized').length, MIN_CELL_LENGTH)
    assert.deepEqual(
      decryptCell(keys, encryptCell(keys, new Uint8Array(0), 'deterministic')),
      new Uint8Array(0),
    )
  })

  it('fails with its own code when any part of a cell is changed or cut', () => {
    const keys = deriveCellKeys(cek)
    const cell = encryptCell(
      keys,
      new TextEncoder().encode('a secret of 24 bytes ...'),
      'randomized',
    )
    const flip = (offset: number) => {
      const copy = new Uint8Array(cell)
      copy[offset] = (copy[offset] ?? 0) ^ 0x01
      return copy
    }
    assert.throws(() => decryptCell(keys, flip(0)), { code: 'ERR_AE_CELL_VERSION' })
    for (const [part, offset] of [
      ['tag', 1],
      ['tag end', 32],
      ['IV', 33],
      ['IV end', 48],
      ['ciphertext', 49],
      ['last byte', cell.length - 1],
    ] as const)
      assert.throws(() => decryptCell(keys, flip(offset)), { code: 'ERR_AE_CELL_AUTH' }, part)
    assert.throws(() => decryptCell(keys, cell.subarray(0, cell.length - 16)), {
      code: 'ERR_AE_CELL_AUTH',
    })
    assert.throws(() => decryptCell(keys, cell.subarray(0, cell.length - 1)), {
      code: 'ERR_AE_CELL_TRUNCATED',
    })
    assert.throws(() => decryptCell(keys, cell.subarray(0, MIN_CELL_LENGTH - 1)), {
      code: 'ERR_AE_CELL_TRUNCATED',
    })
    assert.throws(() => decryptCell(deriveCellKeys(cek.map((b) => b ^ 0xff)), cell), {
      code: 'ERR_AE_CELL_AUTH',
    })
    assert.ok(decryptCell(keys, cell).length > 0, 'the untouched cell still decrypts')
  })
})
