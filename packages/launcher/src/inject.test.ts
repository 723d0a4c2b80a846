import assert from 'node:assert/strict'
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { toBase64, utf8 } from '@subrosa/core'
import { measureBundlePath } from './bundle.ts'
import { materializeInjection } from './inject.ts'
import { createScratch } from './scratch.ts'

describe('injection', () => {
  it('writes files 0600 under the scratch dir and rewrites /run/subrosa/ in env', async () => {
    const scratch = await createScratch()
    try {
      assert.equal((await stat(scratch.dir)).mode & 0o777, 0o700)
      const { env, files } = await materializeInjection(
        {
          env: { AUTH_FILE: '/run/subrosa/spark/auth', PLAIN: 'x' },
          files: [{ path: '/run/subrosa/spark/auth', content: toBase64(utf8('s3cret')) }],
          keys: [],
        },
        scratch.dir,
      )
      assert.equal(env.AUTH_FILE, join(scratch.dir, 'spark/auth'))
      assert.equal(env.PLAIN, 'x')
      assert.equal(await readFile(files[0] as string, 'utf8'), 's3cret')
      assert.equal((await stat(files[0] as string)).mode & 0o777, 0o600)
    } finally {
      await scratch.dispose()
    }
    await assert.rejects(stat(scratch.dir))
  })

  it('returns injected args with /run/subrosa/ rewritten, none when the broker sent none', async () => {
    const scratch = await createScratch()
    try {
      const { args } = await materializeInjection(
        {
          env: {},
          files: [],
          args: ['--cert=/run/subrosa/tls/cert.pem', '--level=2'],
          keys: [],
        },
        scratch.dir,
      )
      assert.deepEqual(args, [`--cert=${join(scratch.dir, 'tls/cert.pem')}`, '--level=2'])
      const none = await materializeInjection({ env: {}, files: [], keys: [] }, scratch.dir)
      assert.deepEqual(none.args, [])
      await assert.rejects(
        materializeInjection({ env: {}, files: [], args: ['a\u0000b'], keys: [] }, scratch.dir),
        { code: 'ERR_LAUNCHER_INJECTION' },
      )
    } finally {
      await scratch.dispose()
    }
  })

  it('refuses paths outside /run/subrosa/ and bad content', async () => {
    const scratch = await createScratch()
    try {
      for (const path of ['/etc/passwd', '/run/subrosa/../x', '/run/subrosa//x', 'run/subrosa/x']) {
        await assert.rejects(
          materializeInjection({ env: {}, files: [{ path, content: '' }], keys: [] }, scratch.dir),
          { code: 'ERR_LAUNCHER_INJECTION' },
        )
      }
      await assert.rejects(
        materializeInjection(
          { env: {}, files: [{ path: '/run/subrosa/x', content: '%%' }], keys: [] },
          scratch.dir,
        ),
        {
          code: 'ERR_LAUNCHER_INJECTION',
        },
      )
    } finally {
      await scratch.dispose()
    }
  })
})

describe('measureBundlePath', () => {
  it('measures a directory by content, and refuses symlinks and empty bundles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-bundle-'))
    try {
      await mkdir(join(dir, 'sql'))
      await writeFile(join(dir, 'job.yaml'), 'query: select 1\n')
      await writeFile(join(dir, 'sql', 'q.sql'), 'select 2')
      const a = await measureBundlePath(dir)
      assert.equal(a.files, 2)
      await writeFile(join(dir, 'job.yaml'), 'query: select 2\n')
      assert.notDeepEqual((await measureBundlePath(dir)).measurement, a.measurement)
      const single = await measureBundlePath(join(dir, 'job.yaml'))
      assert.equal(single.files, 1)
      await symlink('/etc/hostname', join(dir, 'link'))
      await assert.rejects(measureBundlePath(dir), { code: 'ERR_LAUNCHER_BUNDLE' })
      await assert.rejects(measureBundlePath(join(dir, 'missing')), { code: 'ERR_LAUNCHER_BUNDLE' })
      const empty = await mkdtemp(join(tmpdir(), 'subrosa-empty-'))
      await assert.rejects(measureBundlePath(empty), { code: 'ERR_LAUNCHER_BUNDLE' })
      await rm(empty, { recursive: true })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
