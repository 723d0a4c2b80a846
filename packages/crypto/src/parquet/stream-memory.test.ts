// Streaming: encrypting a 4 GiB file, then decrypting it, each keeps the resident memory of its
// process under 512 MiB. The plaintext is generated as it is read; the encrypted file goes to a
// temporary directory on disk. Each direction runs in a child process whose peak RSS the kernel
// reports.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { tempDir } from '../../test/helpers.ts'

const CHILD = fileURLToPath(new URL('../../test/stream-memory.ts', import.meta.url))
const GIB = 1024 ** 3
const LIMIT = 512 * 1024 ** 2

type Report = { size: number; written: number; pages: number; maxRssKiB: number }

function child(args: string[]): Report {
  const run = spawnSync(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', CHILD, ...args],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    },
  )
  assert.equal(run.status, 0, run.stderr)
  return JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Report
}

describe('streaming PME', () => {
  it('encrypts and decrypts 4 GiB, each with a peak RSS under 512 MiB', {
    timeout: 900_000,
  }, () => {
    const dir = tempDir()
    try {
      const file = dir.file('large.pme.parquet')
      const encrypted = child(['encrypt', String(4 * GIB), file])
      assert.ok(encrypted.size > 4 * GIB - (2 << 20), `source is ${encrypted.size} bytes`)
      assert.ok(encrypted.written > encrypted.size, 'every page written, with module overhead')
      assert.ok(encrypted.pages >= 4000)
      assert.ok(encrypted.maxRssKiB * 1024 < LIMIT, `encrypt peak RSS ${encrypted.maxRssKiB} KiB`)
      const decrypted = child(['decrypt', file])
      assert.equal(decrypted.size, encrypted.written)
      // The plaintext comes back: same pages, same size up to the rewritten footer's few bytes.
      assert.ok(Math.abs(decrypted.written - encrypted.size) < 64 * 1024, `${decrypted.written}`)
      assert.equal(decrypted.pages, encrypted.pages)
      assert.ok(decrypted.maxRssKiB * 1024 < LIMIT, `decrypt peak RSS ${decrypted.maxRssKiB} KiB`)
    } finally {
      dir.cleanup()
    }
  })
})
