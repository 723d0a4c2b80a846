import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatBytes, progressBar } from './output.ts'

/** A bar over a clock the test moves, and what it wrote. */
function bar(options: { tty: boolean; delayMs?: number }, enabled = true) {
  let t = 1_000_000
  const written: string[] = []
  const b = progressBar(enabled, (s) => written.push(s), 'encrypt', { ...options, now: () => t })
  return { b, written, advance: (ms: number) => (t += ms) }
}

describe('progressBar', () => {
  it('redraws one terminal line with bytes, percent and rate, at most every 100 ms', () => {
    const { b, written, advance } = bar({ tty: true })
    advance(1000)
    b.update(8 << 20, 64 << 20)
    advance(50)
    b.update(9 << 20, 64 << 20)
    assert.equal(written.length, 1, 'throttled')
    advance(1000)
    b.update(64 << 20, 64 << 20)
    assert.equal(written.length, 2)
    assert.match(
      written[0] ?? '',
      /^\r {2}encrypt \[█{4}░{26}\] 12% 8\.0 MiB\/64\.0 MiB 8\.0 MiB\/s$/,
    )
    assert.match(written[1] ?? '', /\[█{30}\] 100% 64\.0 MiB\/64\.0 MiB 31\.2 MiB\/s$/)
    b.done()
    assert.equal(written.at(-1), '\r\x1b[K', 'the line is cleared at the end')
  })

  it('prints a line a second when not on a terminal, always the last one', () => {
    const { b, written, advance } = bar({ tty: false })
    for (let i = 1; i <= 40; i++) {
      advance(100)
      b.update(i << 20, 40 << 20)
    }
    b.done()
    assert.deepEqual(written, [
      '  encrypt 2% 1.0 MiB/40.0 MiB 10.0 MiB/s\n',
      '  encrypt 27% 11.0 MiB/40.0 MiB 10.0 MiB/s\n',
      '  encrypt 52% 21.0 MiB/40.0 MiB 10.0 MiB/s\n',
      '  encrypt 77% 31.0 MiB/40.0 MiB 10.0 MiB/s\n',
      '  encrypt 100% 40.0 MiB/40.0 MiB 10.0 MiB/s\n',
    ])
  })

  it('draws nothing for a run shorter than its delay, or when disabled', () => {
    const short = bar({ tty: true, delayMs: 300 })
    short.advance(200)
    short.b.update(1, 1)
    short.b.done()
    assert.deepEqual(short.written, [])
    const long = bar({ tty: true, delayMs: 300 })
    long.advance(200)
    long.b.update(1, 4)
    long.advance(200)
    long.b.update(2, 4)
    assert.equal(long.written.length, 1)
    const off = bar({ tty: false }, false)
    off.advance(5000)
    off.b.update(1, 1)
    off.b.done()
    assert.deepEqual(off.written, [])
  })

  it('formats byte counts', () => {
    assert.equal(formatBytes(1023), '1023 B')
    assert.equal(formatBytes(1536), '1.5 KiB')
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB')
  })
})
