import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { systemRandom } from './runtime.ts'

describe('systemRandom', () => {
  it('returns the requested number of bytes, in fresh arrays, across block boundaries', () => {
    const outputs: Uint8Array[] = []
    // 97-byte requests do not divide the 4 KiB block: some straddle its end.
    for (let i = 0; i < 200; i++) outputs.push(systemRandom(97))
    for (const o of outputs) assert.equal(o.length, 97)
    assert.equal(systemRandom(0).length, 0)
    assert.equal(systemRandom(300).length, 300)
    // Fresh arrays: changing one changes no other, and no output shares another's buffer.
    const buffers = new Set(outputs.map((o) => o.buffer))
    assert.equal(buffers.size, outputs.length)
  })

  it('never hands out the same bytes twice and looks uniform', () => {
    const seen = new Set<string>()
    const counts = new Array<number>(256).fill(0)
    let total = 0
    for (let i = 0; i < 8192; i++) {
      const o = systemRandom(16)
      const hex = Buffer.from(o).toString('hex')
      assert.ok(!seen.has(hex), 'a 16-byte output repeated')
      seen.add(hex)
      for (const b of o) counts[b] = (counts[b] as number) + 1
      total += o.length
    }
    // Chi-square over byte values, 255 degrees of freedom: 400 is beyond p = 1e-6 for uniform
    // bytes, and far below what all-zero or repeating blocks would give.
    const expected = total / 256
    const chi = counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0)
    assert.ok(chi < 400, `chi-square ${chi.toFixed(0)}`)
  })

  it('refuses lengths the CSPRNG refuses', () => {
    assert.throws(() => systemRandom(-1), RangeError)
    assert.throws(() => systemRandom(2 ** 53), RangeError)
  })
})
