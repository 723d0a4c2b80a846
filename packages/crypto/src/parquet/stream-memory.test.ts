// Streaming: encrypting a 4 GiB file keeps the resident memory of the process under 512 MiB.
// The file is generated as it is read (nothing on disk), in a child process whose peak RSS the
// kernel reports.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'

const CHILD = fileURLToPath(new URL('../../test/stream-memory.ts', import.meta.url))
const GIB = 1024 ** 3

describe('streaming PME', () => {
  it('encrypts 4 GiB with a peak RSS under 512 MiB', { timeout: 600_000 }, () => {
    const child = spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', CHILD, String(4 * GIB)],
      { encoding: 'utf8', maxBuffer: 1 << 20 },
    )
    assert.equal(child.status, 0, child.stderr)
    const report = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '{}') as {
      size: number
      written: number
      pages: number
      maxRssKiB: number
    }
    assert.ok(report.size > 4 * GIB - (2 << 20), `source is ${report.size} bytes`)
    assert.ok(report.written > report.size, 'every page was written, with module overhead')
    assert.ok(report.pages >= 4000)
    assert.ok(report.maxRssKiB * 1024 < 512 * 1024 ** 2, `peak RSS ${report.maxRssKiB} KiB`)
  })
})
