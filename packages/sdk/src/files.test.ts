import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { createAtomicFileSink, openFileSource } from './files.ts'

describe('file sources and atomic sinks', () => {
  it('reads ranges, and never leaves a partial file where the result belongs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-sdk-'))
    try {
      await writeFile(join(dir, 'in'), 'hello, world')
      const source = await openFileSource(join(dir, 'in'))
      assert.equal(source.size, 12)
      assert.deepEqual(await source.read(7, 5), utf8('world'))
      assert.equal((await source.read(10, 5)).length, 2, 'short read at the end')
      await source.close()

      await writeFile(join(dir, 'out'), 'previous result')
      const aborted = await createAtomicFileSink(join(dir, 'out'))
      await aborted.write(utf8('half of a new'))
      await aborted.abort()
      assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'previous result')
      assert.deepEqual(await readdir(dir), ['in', 'out'])

      const sink = await createAtomicFileSink(join(dir, 'out'), 0o600)
      await sink.write(utf8('new '))
      await sink.write(utf8('result'))
      assert.equal(
        await readFile(join(dir, 'out'), 'utf8'),
        'previous result',
        'unchanged until commit',
      )
      await sink.commit()
      assert.equal(await readFile(join(dir, 'out'), 'utf8'), 'new result')
      assert.equal(sink.written, 10)
      assert.equal((await stat(join(dir, 'out'))).mode & 0o777, 0o600)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
