import assert from 'node:assert/strict'
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createClient } from '@redis/client'
import { createCa, issueServerCertificate, issueWorkloadCertificate } from '@subrosa/broker'
import { systemRandom, utf8 } from '@subrosa/core'
import {
  connectSealedCache,
  deriveSealedCacheKeys,
  openCacheValue,
  type SealedCache,
  type SealedCacheKeys,
  sealCacheValue,
  sealedKeyName,
} from './sealed-cache.ts'

const keys: SealedCacheKeys = deriveSealedCacheKeys(systemRandom(32))

describe('sealed cache values', () => {
  it('round-trips, and the blob is 0x01 ‖ IV ‖ ciphertext ‖ tag (29 bytes more)', () => {
    const value = utf8('{"patient":"Ada Lovelace","diagnosis":"benign"}')
    const sealed = sealCacheValue(keys, 'patient:4711', value)
    assert.equal(sealed.length, value.length + 29)
    assert.equal(sealed[0], 1)
    assert.deepEqual(openCacheValue(keys, 'patient:4711', sealed), value)
    assert.notDeepEqual(sealCacheValue(keys, 'patient:4711', value), sealed, 'fresh IV each time')
  })

  it('refuses a value under another name, with another key, or with any byte changed', () => {
    const sealed = sealCacheValue(keys, 'patient:4711', utf8('secret record'))
    assert.throws(() => openCacheValue(keys, 'patient:4712', sealed), {
      code: 'ERR_SDK_CACHE_OPEN',
    })
    const other = deriveSealedCacheKeys(systemRandom(32))
    assert.throws(() => openCacheValue(other, 'patient:4711', sealed), {
      code: 'ERR_SDK_CACHE_OPEN',
    })
    for (const at of [0, 1, 13, sealed.length - 1]) {
      const changed = sealed.slice()
      changed[at] = (changed[at] ?? 0) ^ 0x01
      assert.throws(() => openCacheValue(keys, 'patient:4711', changed), {
        code: 'ERR_SDK_CACHE_OPEN',
      })
    }
    assert.throws(() => openCacheValue(keys, 'patient:4711', sealed.subarray(0, 28)), {
      code: 'ERR_SDK_CACHE_OPEN',
    })
  })

  it('names keys by HMAC under the naming key only, and checks key sizes', () => {
    const a = sealedKeyName(keys, 'patient:4711')
    assert.match(a, /^subrosa:c:[0-9a-f]{64}$/)
    assert.equal(sealedKeyName(keys, 'patient:4711'), a)
    assert.notEqual(sealedKeyName(keys, 'patient:4712'), a)
    const sameNaming = { sealKey: systemRandom(32), namingKey: keys.namingKey }
    assert.equal(sealedKeyName(sameNaming, 'patient:4711'), a)
    assert.notEqual(sealedKeyName(deriveSealedCacheKeys(systemRandom(32)), 'patient:4711'), a)
    assert.notDeepEqual(keys.sealKey, keys.namingKey)
    assert.throws(() => deriveSealedCacheKeys(systemRandom(16)), { code: 'ERR_SDK_CONFIG' })
    assert.throws(() => sealCacheValue({ ...keys, sealKey: new Uint8Array(32) }, 'a', utf8('x')), {
      code: 'ERR_SDK_CONFIG',
    })
    assert.throws(() => sealedKeyName(keys, ''), { code: 'ERR_SDK_CONFIG' })
  })
})

const hasRedis = spawnSync('redis-server', ['--version']).error === undefined
const hasCli = spawnSync('redis-cli', ['--version']).error === undefined
const skip =
  hasRedis && hasCli
    ? false
    : 'redis-server and redis-cli are not installed (apt-get install redis-server)'

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

describe('sealed cache on a real redis-server over mutual TLS', { skip }, () => {
  let dir: string
  let redis: ChildProcess
  let port: number
  let files: Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>
  let material: { caPem: string; certPem: string; keyPem: string }
  let strangerCert: { certPem: string; keyPem: string }
  let cache: SealedCache

  /** redis-cli over TLS with the client certificate (or without, when `cert` is false). */
  const cli = (args: string[], cert = true) =>
    new Promise<{ code: number; out: Buffer; err: string }>((resolve) => {
      const tls = ['--tls', '--cacert', files.ca]
      if (cert) tls.push('--cert', files.clientCert, '--key', files.clientKey)
      execFile(
        'redis-cli',
        [...tls, '-h', '127.0.0.1', '-p', String(port), ...args],
        { encoding: 'buffer' },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : Number((error as { code?: unknown }).code ?? 1),
            out: stdout,
            err: stderr.toString(),
          }),
      )
    })

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-redis-'))
    const now = new Date()
    const ca = await createCa(now, systemRandom(16))
    const server = await issueServerCertificate(ca, ['127.0.0.1'], now, systemRandom(16))
    const workload = (authority: typeof ca) =>
      issueWorkloadCertificate(
        authority,
        {
          key: { type: 'ec', curve: 'P-256' },
          uri: 'spiffe://acme.test/health/api',
          dns: [],
          days: 1,
          commonName: 'api',
        },
        now,
        systemRandom(16),
      )
    const client = await workload(ca)
    const stranger = await workload(await createCa(now, systemRandom(16)))
    strangerCert = { certPem: stranger.certPem, keyPem: stranger.privatePem }
    material = { caPem: ca.certPem, certPem: client.certPem, keyPem: client.privatePem }
    files = {
      ca: join(dir, 'ca.pem'),
      serverCert: join(dir, 'server.pem'),
      serverKey: join(dir, 'server.key'),
      clientCert: join(dir, 'client.pem'),
      clientKey: join(dir, 'client.key'),
    }
    await writeFile(files.ca, ca.certPem)
    await writeFile(files.serverCert, server.certPem)
    await writeFile(files.serverKey, server.keyPem, { mode: 0o600 })
    await writeFile(files.clientCert, client.certPem)
    await writeFile(files.clientKey, client.privatePem, { mode: 0o600 })
    port = await freePort()
    // Port 0: no plain TCP at all; TLS only, client certificates required; nothing on disk.
    redis = spawn(
      'redis-server',
      [
        '--port',
        '0',
        '--tls-port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--tls-cert-file',
        files.serverCert,
        '--tls-key-file',
        files.serverKey,
        '--tls-ca-cert-file',
        files.ca,
        '--tls-auth-clients',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    await new Promise<void>((resolve, reject) => {
      let log = ''
      redis.stdout?.on('data', (chunk: Buffer) => {
        log += chunk.toString()
        if (log.includes('Ready to accept connections')) resolve()
      })
      redis.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${log}`)))
    })
    cache = await connectSealedCache({ host: '127.0.0.1', port, ...material, keys })
  })
  after(async () => {
    await cache?.close()
    redis?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('round-trips values, sets the TTL, deletes', async () => {
    const record = utf8('{"name":"Grace Hopper","finding":"malignant"}')
    await cache.set('patient:1906', record, { ttlSeconds: 600 })
    assert.deepEqual(await cache.get('patient:1906'), record)
    const ttl = Number((await cli(['PTTL', cache.keyOf('patient:1906')])).out.toString())
    assert.ok(ttl > 0 && ttl <= 600_000, `TTL ${ttl} ms`)
    assert.equal(await cache.get('patient:0000'), undefined)
    assert.equal(await cache.delete('patient:1906'), true)
    assert.equal(await cache.get('patient:1906'), undefined)
    await assert.rejects(cache.set('x', record, { ttlSeconds: 0 }), { code: 'ERR_SDK_CONFIG' })
  })

  it('leaves redis-cli no plaintext of the values or the key names', async () => {
    const records = {
      'patient:alan-turing': '{"name":"Alan Turing","finding":"benign"}',
      'patient:emmy-noether': '{"name":"Emmy Noether","finding":"malignant"}',
    }
    for (const [name, value] of Object.entries(records))
      await cache.set(name, utf8(value), { ttlSeconds: 60 })
    const scan = await cli(['--scan'])
    assert.equal(scan.code, 0, scan.err)
    const seen = [scan.out]
    for (const key of scan.out
      .toString()
      .split('\n')
      .filter((k) => k !== '')) {
      assert.match(key, /^subrosa:c:[0-9a-f]{64}$/)
      seen.push((await cli(['GET', key])).out, (await cli(['DUMP', key])).out)
    }
    assert.ok(seen.length >= 5, 'both keys were read back')
    const everything = Buffer.concat(seen)
    for (const [name, value] of Object.entries(records)) {
      for (const needle of [name, value, 'Turing', 'Noether', 'malignant', 'benign', 'patient'])
        assert.equal(everything.indexOf(needle), -1, `redis-cli saw ${needle}`)
    }
  })

  it('refuses a value copied to another key, and a changed value, with ERR_SDK_CACHE_OPEN', async () => {
    await cache.set('patient:a', utf8('record A'), { ttlSeconds: 60 })
    await cache.set('patient:b', utf8('record B'), { ttlSeconds: 60 })
    const copied = await cli([
      'COPY',
      cache.keyOf('patient:a'),
      cache.keyOf('patient:b'),
      'REPLACE',
    ])
    assert.equal(copied.out.toString().trim(), '1', copied.err)
    await assert.rejects(cache.get('patient:b'), { code: 'ERR_SDK_CACHE_OPEN' })
    assert.deepEqual(await cache.get('patient:a'), utf8('record A'))

    const stored = (await cli(['GET', cache.keyOf('patient:a')])).out
    const replacement = stored[13] === 0x5a ? 'Y' : 'Z' // first ciphertext byte, changed for sure
    await cli(['SETRANGE', cache.keyOf('patient:a'), '13', replacement])
    await assert.rejects(cache.get('patient:a'), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'ERR_SDK_CACHE_OPEN')
      assert.ok(!error.message.includes('record') && !error.message.includes('patient'))
      return true
    })
  })

  it('refuses clients without a certificate or from another CA; fails closed once closed', async () => {
    const bare = await cli(['PING'], false)
    assert.doesNotMatch(bare.out.toString(), /PONG/)
    const anonymous = createClient({
      socket: {
        host: '127.0.0.1',
        port,
        tls: true,
        ca: material.caPem,
        reconnectStrategy: false,
      },
    })
    anonymous.on('error', () => {})
    await assert.rejects(
      (async () => {
        await anonymous.connect()
        await anonymous.ping()
      })(),
    )
    anonymous.destroy()
    await assert.rejects(
      connectSealedCache({ host: '127.0.0.1', port, caPem: material.caPem, ...strangerCert, keys }),
      { code: 'ERR_SDK_CACHE_UNAVAILABLE' },
    )
    const closed = await connectSealedCache({ host: '127.0.0.1', port, ...material, keys })
    await closed.close()
    await assert.rejects(closed.get('patient:a'), { code: 'ERR_SDK_CACHE_UNAVAILABLE' })
    // And the client pins the broker CA: a server it did not issue is not trusted.
    const otherCa = (await createCa(new Date(), systemRandom(16))).certPem
    await assert.rejects(
      connectSealedCache({ host: '127.0.0.1', port, ...material, caPem: otherCa, keys }),
      { code: 'ERR_SDK_CACHE_UNAVAILABLE' },
    )
  })
})
