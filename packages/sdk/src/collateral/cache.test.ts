import assert from 'node:assert/strict'
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { createCollateralCache } from './cache.ts'

const T0 = new Date('2026-01-01T00:00:00Z')
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000)
const response = { body: utf8('{"tcbInfo":{}}'), headers: { 'x-chain': 'pem' }, fetchedAt: T0 }
const URL_A = 'https://pcs.test/sgx/certification/v4/qe/identity'

describe('collateral cache', () => {
  it('expires entries after maxAgeSeconds, or at nextUpdate when that is sooner', async () => {
    const cache = createCollateralCache({ maxAgeSeconds: 100 })
    await cache.set(URL_A, response)
    assert.deepEqual(await cache.get(URL_A, at(99)), response)
    assert.equal(await cache.get(URL_A, at(100)), undefined)
    await cache.set(URL_A, response, at(10))
    assert.ok(await cache.get(URL_A, at(9)))
    assert.equal(await cache.get(URL_A, at(10)), undefined)
    await cache.set(URL_A, response, at(1000))
    assert.equal(await cache.get(URL_A, at(100)), undefined, 'a later nextUpdate does not extend')
    assert.equal(await cache.get('https://pcs.test/other', at(0)), undefined)
  })

  it('persists entries as private files and ignores foreign or corrupt ones', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'subrosa-cache-')), 'nested')
    try {
      await createCollateralCache({ dir, maxAgeSeconds: 100 }).set(URL_A, response, at(50))
      const files = await readdir(dir)
      assert.equal(files.length, 1)
      assert.equal((await stat(dir)).mode & 0o777, 0o700)
      assert.equal((await stat(join(dir, files[0] as string))).mode & 0o777, 0o600)

      const reopened = createCollateralCache({ dir, maxAgeSeconds: 100 })
      assert.deepEqual(await reopened.get(URL_A, at(49)), response)
      assert.equal(
        await createCollateralCache({ dir, maxAgeSeconds: 100 }).get(URL_A, at(50)),
        undefined,
      )

      for (const junk of ['not json', '{"url":"https://elsewhere","body":""}', '{"url":1}']) {
        await writeFile(join(dir, files[0] as string), junk)
        assert.equal(
          await createCollateralCache({ dir, maxAgeSeconds: 100 }).get(URL_A, at(1)),
          undefined,
        )
      }
    } finally {
      await rm(join(dir, '..'), { recursive: true, force: true })
    }
  })

  it('refuses a negative or non-numeric maxAgeSeconds', () => {
    for (const maxAgeSeconds of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => createCollateralCache({ maxAgeSeconds }), { code: 'ERR_SDK_CONFIG' })
    }
  })
})
