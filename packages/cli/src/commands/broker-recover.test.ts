import assert from 'node:assert/strict'
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { systemRandom, toBase64, toHex } from '@subrosa/core'
import { ownerKeyId } from '@subrosa/protocol'
import { BrokerClient, createKey, createOwnerKms } from '@subrosa/sdk'
import type { JWK } from 'jose'
import { lastJson } from '../child.ts'
import { cliEntry } from '../entry.ts'
import { runInProcess } from '../in-process.ts'

const entry = cliEntry()

/** `subrosa broker start <args>` as a child process, resolved once it serves. */
async function startBrokerProcess(
  cwd: string,
  args: readonly string[],
  waitFor: readonly string[] = [],
): Promise<{ child: ChildProcessWithoutNullStreams; log: () => string; stop(): Promise<void> }> {
  const child = spawn(
    entry.execPath,
    [...entry.execArgv, entry.main, 'broker', 'start', '--port', '0', ...args],
    { cwd },
  )
  let log = ''
  await new Promise<void>((resolve, reject) => {
    const seen = (d: Buffer) => {
      log += d.toString()
      if (['"broker-started"', ...waitFor].every((w) => log.includes(w))) resolve()
    }
    child.stdout.on('data', seen)
    child.stderr.on('data', seen)
    child.on('exit', () => reject(new Error(`broker exited: ${log}`)))
  })
  return {
    child,
    log: () => log,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.on('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}

async function ownerClient(dir: string): Promise<BrokerClient> {
  const info = JSON.parse(await readFile(join(dir, '.subrosa', 'broker.json'), 'utf8'))
  const privateJwk = JSON.parse(await readFile(join(dir, 'owner.jwk'), 'utf8')) as JWK
  const { d: _d, ...pub } = privateJwk
  return new BrokerClient(
    { url: info.url, caPem: await readFile(join(dir, '.subrosa', 'ca.pem'), 'utf8') },
    { owner: { privateJwk, id: await ownerKeyId(pub) } },
  )
}

describe('subrosa broker start --recovery-threshold / broker recover / broker rekey', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-cli-recover-'))
    assert.equal((await runInProcess(['owner', 'keygen', '--json'], dir)).status, 0)
  })
  after(async () => rm(dir, { recursive: true, force: true }))

  it('splits the root key at init and rebuilds it from 2 of 3 shares under a new unseal key', async () => {
    await writeFile(join(dir, 'kek.key'), `${toBase64(systemRandom(32))}\n`, { mode: 0o600 })
    const usage = await runInProcess(
      ['broker', 'start', '--recovery-threshold', '2', '--custodian', 'alice'],
      dir,
    )
    assert.equal(usage.status, 2)
    assert.match(usage.stderr, /ERR_CLI_USAGE/)

    const first = await startBrokerProcess(
      dir,
      [
        '--owner',
        'owner.pub.jwk',
        '--kek-file',
        'kek.key',
        '--recovery-threshold',
        '2',
        '--custodian',
        'alice',
        '--custodian',
        'bob',
        '--custodian',
        'carol',
        '--shares-dir',
        'shares',
      ],
      ['DELETE the files'],
    )
    const dek = systemRandom(32)
    let wrapped: string
    try {
      assert.match(first.log(), /RECOVERY SHARES CREATED/)
      assert.match(first.log(), /alice: .*shares/)
      const client = await ownerClient(dir)
      await createKey(client, 'acme', 'taxi')
      wrapped = await createOwnerKms(client).wrapKey(dek, 'subrosa:acme/taxi')
    } finally {
      await first.stop()
    }
    const files = Object.fromEntries(
      (await readdir(join(dir, 'shares'))).map((f) => [f.split('-').at(-1)?.split('.')[0], f]),
    )
    for (const f of Object.values(files))
      assert.equal((await stat(join(dir, 'shares', f as string))).mode & 0o777, 0o600)
    const share = (name: string) => join('shares', files[name] as string)

    // The unseal key is lost.
    await rm(join(dir, '.subrosa.unseal.key'))
    const recover = (args: string[]) =>
      runInProcess(['broker', 'recover', '--new-unseal-key-file', 'new.key', ...args], dir)

    const one = await recover(['--share', share('alice'), '--kek-file', 'kek.key', '--json'])
    assert.equal(one.status, 1)
    assert.deepEqual(lastJson(one.stdout)?.ok, false)
    assert.match(JSON.stringify(lastJson(one.stdout)), /"code":"ERR_BROKER_RECOVERY"/)
    assert.equal(existsSync(join(dir, 'new.key')), false)

    const doc = JSON.parse(await readFile(join(dir, share('bob')), 'utf8'))
    doc.share = `${doc.share.slice(0, 10)}${doc.share[10] === 'x' ? 'y' : 'x'}${doc.share.slice(11)}`
    await writeFile(join(dir, 'typo.json'), JSON.stringify(doc))
    const typo = await recover(['--share', share('alice'), '--share', 'typo.json'])
    assert.equal(typo.status, 1)
    assert.match(typo.stderr, /ERR_BROKER_RECOVERY_SHARE/)

    const noKek = await recover(['--share', share('alice'), '--share', share('carol')])
    assert.match(noKek.stderr, /ERR_BROKER_KEK/)
    assert.equal(existsSync(join(dir, 'new.key')), false)

    const ok = await recover([
      '--share',
      share('carol'),
      '--share',
      share('alice'),
      '--kek-file',
      'kek.key',
      '--json',
    ])
    assert.equal(ok.status, 0, ok.stderr)
    const result = lastJson(ok.stdout)
    assert.deepEqual(result?.custodians, ['alice', 'carol'])
    assert.equal(result?.threshold, 2)
    assert.equal((await stat(join(dir, 'new.key'))).mode & 0o777, 0o600)

    // Rotate the unseal key and the KEK; a wrong current key changes nothing.
    const rekey = (args: string[]) => runInProcess(['broker', 'rekey', ...args, '--json'], dir)
    const wrong = await rekey([
      '--unseal-key-file',
      'kek.key',
      '--kek-file',
      'kek.key',
      '--new-unseal-key-file',
      'newer.key',
    ])
    assert.equal(wrong.status, 1)
    assert.match(wrong.stderr, /ERR_BROKER_UNSEAL/)
    assert.equal(existsSync(join(dir, 'newer.key')), false)
    const rotated = await rekey([
      '--unseal-key-file',
      'new.key',
      '--kek-file',
      'kek.key',
      '--new-unseal-key-file',
      'newer.key',
      '--new-kek-file',
      'newer-kek.key',
    ])
    assert.equal(rotated.status, 0, rotated.stderr)
    assert.equal(lastJson(rotated.stdout)?.kekChanged, true)
    for (const f of ['newer.key', 'newer-kek.key'])
      assert.equal((await stat(join(dir, f))).mode & 0o777, 0o600)

    const second = await startBrokerProcess(dir, [
      '--unseal-key-file',
      'newer.key',
      '--kek-file',
      'newer-kek.key',
    ])
    try {
      const client = await ownerClient(dir)
      const unwrapped = await createOwnerKms(client).unwrapKey(wrapped, 'subrosa:acme/taxi')
      assert.equal(toHex(unwrapped), toHex(dek))
      assert.doesNotMatch(second.log(), /RECOVERY SHARES CREATED/)
    } finally {
      await second.stop()
    }
  })
})
