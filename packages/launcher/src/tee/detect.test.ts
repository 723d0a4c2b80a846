// detectTee over trees written by the test: which provider each tree yields.
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, it } from 'node:test'
import type { TeeProvider } from '../tee.ts'
import { type DetectTeeOptions, detectTee, isTeeChoice } from './detect.ts'
import { fakeConfigfsTsm, fakeGramine, tempDir } from './test-trees.ts'

const SIM: TeeProvider = { tee: 'sim', insecure: true, evidence: async () => ({}) }

describe('detectTee', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>
  let paths: DetectTeeOptions
  beforeEach(async () => {
    tmp = await tempDir()
    paths = {
      tsmRoot: join(tmp.dir, 'tsm'),
      gramineRoot: join(tmp.dir, 'attestation'),
      devRoot: join(tmp.dir, 'dev'),
    }
    await mkdir(join(tmp.dir, 'dev'))
  })
  afterEach(() => tmp.dispose())

  it('auto picks tdx or snp from the configfs-tsm provider and removes its probe entry', async () => {
    for (const [provider, tee] of [
      ['tdx_guest', 'tdx'],
      ['sev_guest', 'snp'],
    ] as const) {
      const tsm = await fakeConfigfsTsm(tmp.dir, { provider, outblob: new Uint8Array(1) })
      const chosen = await detectTee({ ...paths, files: tsm.files, sim: () => SIM })
      assert.equal(chosen.tee, tee)
      assert.equal(chosen.insecure, false)
      assert.equal(tsm.entries.length, 1)
      assert.deepEqual(await tsm.remaining(), [])
      assert.equal((await detectTee({ ...paths, files: tsm.files, choice: tee })).tee, tee)
      await assert.rejects(
        detectTee({ ...paths, files: tsm.files, choice: tee === 'tdx' ? 'snp' : 'tdx' }),
        { code: 'ERR_LAUNCHER_TEE_UNAVAILABLE' },
      )
      await tmp.dispose()
      await mkdir(join(tmp.dir, 'dev'), { recursive: true })
    }
  })

  it('auto picks sgx under Gramine with DCAP and refuses Gramine without it', async () => {
    const gramine = await fakeGramine(tmp.dir, { attestationType: 'dcap', quote: new Uint8Array() })
    assert.equal((await detectTee({ ...paths, files: gramine.files })).tee, 'sgx')
    assert.equal((await detectTee({ ...paths, choice: 'sgx' })).tee, 'sgx')
    await writeFile(join(gramine.root, 'attestation_type'), 'none')
    await assert.rejects(detectTee(paths), { code: 'ERR_LAUNCHER_TEE_UNAVAILABLE' })
    await assert.rejects(detectTee({ ...paths, choice: 'sgx' }), {
      code: 'ERR_LAUNCHER_TEE_UNAVAILABLE',
    })
  })

  it('configfs-tsm without a provider does not count as a TEE', async () => {
    const tsm = await fakeConfigfsTsm(tmp.dir, { outblob: new Uint8Array(1) })
    await assert.rejects(detectTee({ ...paths, files: tsm.files }), {
      code: 'ERR_LAUNCHER_TEE_UNAVAILABLE',
    })
    assert.deepEqual(await tsm.remaining(), [])
  })

  it('a guest device without configfs-tsm is refused, naming configfs-tsm', async () => {
    for (const [device, tee] of [
      ['sev-guest', 'snp'],
      ['tdx_guest', 'tdx'],
    ] as const) {
      await writeFile(join(tmp.dir, 'dev', device), '')
      for (const choice of ['auto', tee] as const) {
        await assert.rejects(detectTee({ ...paths, choice }), (error: Error) => {
          assert.equal((error as { code?: string }).code, 'ERR_LAUNCHER_TEE_UNAVAILABLE')
          assert.match(error.message, /configfs-tsm/)
          assert.match(error.message, new RegExp(device))
          return true
        })
      }
    }
  })

  it('nothing present: auto refuses (never falls back to sim); sim only by name', async () => {
    await assert.rejects(detectTee({ ...paths, sim: () => SIM }), {
      code: 'ERR_LAUNCHER_TEE_UNAVAILABLE',
    })
    for (const choice of ['tdx', 'snp', 'sgx'] as const) {
      await assert.rejects(detectTee({ ...paths, choice }), {
        code: 'ERR_LAUNCHER_TEE_UNAVAILABLE',
      })
    }
    assert.equal(await detectTee({ ...paths, choice: 'sim', sim: () => SIM }), SIM)
    await assert.rejects(detectTee({ ...paths, choice: 'sim' }), { code: 'ERR_LAUNCHER_TEE' })
  })

  it('knows its choices', () => {
    assert.deepEqual(['auto', 'sim', 'tdx', 'snp', 'sgx', 'SGX', 'sev', ''].map(isTeeChoice), [
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ])
  })
})
