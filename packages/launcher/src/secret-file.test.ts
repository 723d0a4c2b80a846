import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { writeSecretFile } from './secret-file.ts'

describe('writeSecretFile', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-secret-file-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('writes 0600 in a 0700 directory it creates, and zeroes the bytes it was given', async () => {
    const secret = new Uint8Array([1, 2, 3, 4])
    const path = join(dir, 'new', 'spark-auth')
    await writeSecretFile(path, secret)
    assert.deepEqual([...(await readFile(path))], [1, 2, 3, 4])
    assert.equal((await stat(path)).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'new'))).mode & 0o777, 0o700)
    assert.deepEqual([...secret], [0, 0, 0, 0])
  })

  it('replaces a stale file from an earlier container, resetting its mode', async () => {
    const path = join(dir, 'stale')
    await writeFile(path, 'an old, longer secret value', { mode: 0o644 })
    await writeSecretFile(path, new Uint8Array([9]))
    assert.deepEqual([...(await readFile(path))], [9])
    assert.equal((await stat(path)).mode & 0o777, 0o600)
  })

  it('fails with ERR_LAUNCHER_SECRET_FILE, naming the path and never the value', async () => {
    const blocker = join(dir, 'a-file')
    await writeFile(blocker, '')
    await assert.rejects(
      writeSecretFile(join(blocker, 'spark-auth'), new Uint8Array([0x41, 0x42])),
      (e: { code?: string; message?: string }) =>
        e.code === 'ERR_LAUNCHER_SECRET_FILE' && e.message?.includes('AB') === false,
    )
  })
})
