import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { systemRandom, toBase64, toHex } from '@subrosa/core'
import { startBroker } from './start.ts'

async function scan(dir: string, needles: readonly Buffer[]): Promise<string[]> {
  const hits: string[] = []
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry)
    if (!(await stat(path)).isFile()) continue
    const bytes = await readFile(path)
    for (const n of needles) if (bytes.includes(n)) hits.push(entry)
  }
  return hits
}

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
      assert.deepEqual(await scan(dir, needles), [])

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
