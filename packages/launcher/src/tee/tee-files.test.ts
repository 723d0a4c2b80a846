import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { attributeText, errnoOf, nodeTeeFiles } from './tee-files.ts'
import { tempDir } from './test-trees.ts'

describe('nodeTeeFiles', () => {
  it('reads to end of file across chunks, and makes one directory level only', async () => {
    const tmp = await tempDir()
    try {
      const big = new Uint8Array(200_000).map((_, i) => i % 251)
      await writeFile(join(tmp.dir, 'outblob'), big)
      assert.deepEqual(await nodeTeeFiles.readFile(join(tmp.dir, 'outblob')), big)
      assert.deepEqual(
        await nodeTeeFiles
          .readFile(join(tmp.dir, 'outblob').replace('outblob', 'x'))
          .catch(errnoOf),
        'ENOENT',
      )
      await assert.rejects(nodeTeeFiles.mkdir(join(tmp.dir, 'report', 'entry')), { code: 'ENOENT' })
      await nodeTeeFiles.mkdir(join(tmp.dir, 'report'))
      assert.equal(await nodeTeeFiles.exists(join(tmp.dir, 'report')), true)
      await nodeTeeFiles.rmdir(join(tmp.dir, 'report'))
      assert.equal(await nodeTeeFiles.exists(join(tmp.dir, 'report')), false)
    } finally {
      await tmp.dispose()
    }
  })

  it('reads attribute text without its newline', () => {
    assert.equal(attributeText(new TextEncoder().encode('tdx_guest\n')), 'tdx_guest')
    assert.equal(attributeText(new TextEncoder().encode('7')), '7')
  })
})
