import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { systemRandom, toBase64, toHex } from '@subrosa/core'
import { startBroker } from './start.ts'
import { scanDir } from './testing/scan-dir.ts'

describe('broker state on disk', () => {
  it('restarts with the same unseal key, refuses another, and stores no key in plaintext', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-broker-test-'))
    const unsealKey = systemRandom(32)
    try {
      const first = await startBroker({ dataDir: dir, unsealKey })
      const { rootKey, signingKey } = first.context.keys
      const needles = [
        rootKey,
        Buffer.from(toHex(rootKey)),
        Buffer.from(toBase64(rootKey)),
        Buffer.from(String(signingKey.d)),
      ].map((x) => Buffer.from(x))
      const caPem = first.caPem
      assert.equal(first.initialized, true)
      await first.close()
      assert.deepEqual(await scanDir(dir, needles), [])

      const second = await startBroker({ dataDir: dir, unsealKey })
      assert.equal(second.initialized, false)
      assert.equal(second.caPem, caPem)
      assert.equal(second.jwks.keys[0]?.kid, signingKey.kid)
      await second.close()

      await assert.rejects(startBroker({ dataDir: dir, unsealKey: systemRandom(32) }), {
        code: 'ERR_BROKER_UNSEAL',
      })
      assert.equal(await readFile(join(dir, 'ca.pem'), 'utf8'), caPem)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
