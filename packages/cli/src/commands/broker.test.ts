// `subrosa broker start` as a child process: graceful shutdown on SIGTERM and SIGINT, and the
// operational options.
import assert from 'node:assert/strict'
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { connect, type TLSSocket } from 'node:tls'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import { generateOwnerKey } from '@subrosa/protocol'
import { cliEntry } from '../entry.ts'
import { runInProcess } from '../in-process.ts'

type Broker = {
  child: ChildProcessWithoutNullStreams
  url: URL
  ca: string
  output: () => string
  exited: Promise<number | null>
}

async function startBrokerChild(dir: string, extra: string[]): Promise<Broker> {
  const entry = cliEntry()
  const child = spawn(
    entry.execPath,
    [...entry.execArgv, entry.main, 'broker', 'start', '--port', '0', ...extra],
    { cwd: dir },
  )
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString()
      if (output.includes('"broker-started"')) resolve()
    })
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString()
    })
    void exited.then(() => reject(new Error(`broker exited: ${output}`)))
  })
  const started = output
    .split('\n')
    .map((l) => (l.startsWith('{') ? (JSON.parse(l) as Record<string, unknown>) : {}))
    .find((e) => e.event === 'broker-started')
  const ca = await readFile(join(dir, '.subrosa', 'ca.pem'), 'utf8')
  return { child, url: new URL(String(started?.url)), ca, output: () => output, exited }
}

function get(broker: Broker, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(new URL(path, broker.url), { ca: broker.ca, agent: false }, (res) => {
      let body = ''
      res.on('data', (d: Buffer) => {
        body += d.toString()
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
      .on('error', reject)
      .end()
  })
}

/** Open a TLS connection and send a request's head with `Expect: 100-continue`. */
async function startSlowRequest(broker: Broker, body: string): Promise<TLSSocket> {
  const socket = connect({
    host: broker.url.hostname,
    port: Number(broker.url.port),
    ca: broker.ca,
    servername: 'localhost',
  })
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve)
    socket.once('error', reject)
  })
  socket.write(
    'POST /kbs/v0/auth HTTP/1.1\r\nHost: localhost\r\ncontent-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(body)}\r\nexpect: 100-continue\r\n\r\n`,
  )
  // The server parsed the head (the request is in flight) when it says 100 Continue.
  await new Promise<void>((resolve) => {
    let seen = ''
    const onData = (d: Buffer) => {
      seen += d.toString()
      if (seen.includes('100 Continue')) {
        socket.off('data', onData)
        resolve()
      }
    }
    socket.on('data', onData)
  })
  return socket
}

function finish(socket: TLSSocket, rest: string): Promise<string> {
  return new Promise((resolve) => {
    let text = ''
    socket.on('data', (d: Buffer) => {
      text += d.toString()
    })
    socket.on('close', () => resolve(text))
    socket.on('end', () => resolve(text))
    socket.write(rest)
  })
}

describe('subrosa broker start: graceful shutdown', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-broker-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('on SIGTERM drains (/readyz 503), finishes the in-flight request and exits 0', async () => {
    const broker = await startBrokerChild(dir, ['--drain-delay', '2', '--shutdown-timeout', '10'])
    try {
      assert.equal((await get(broker, '/readyz')).status, 200)
      const body = JSON.stringify({
        version: '0.1.1',
        tee: 'sim',
        'extra-params': { workload: 'acme/analytics/job' },
      })
      const half = Math.floor(body.length / 2)
      const socket = await startSlowRequest(broker, body)
      socket.write(body.slice(0, half))

      broker.child.kill('SIGTERM')
      let ready = await get(broker, '/readyz')
      while (ready.status === 200) ready = await get(broker, '/readyz')
      assert.equal(ready.status, 503)
      assert.equal(JSON.parse(ready.body).code, 'ERR_BROKER_UNAVAILABLE')
      assert.equal(JSON.parse(ready.body).details.draining, true)

      // The listener closes after the drain delay; the in-flight request still completes.
      let refused = false
      while (!refused)
        refused = await get(broker, '/healthz').then(
          () => false,
          () => true,
        )
      const answer = await finish(socket, body.slice(half))
      assert.match(answer, /^HTTP\/1\.1 200 OK/m)
      assert.match(answer, /"nonce":"/)

      assert.equal(await broker.exited, 0)
      const events = broker
        .output()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
      const kinds = events.map((e) => e.event)
      assert.ok(kinds.indexOf('broker-draining') < kinds.indexOf('broker-stopped'))
      assert.equal(events.find((e) => e.event === 'broker-stopped')?.forced, false)
    } finally {
      if (broker.child.exitCode === null) broker.child.kill('SIGKILL')
    }
  })

  it('on SIGINT with no drain delay exits 0 promptly', async () => {
    const broker = await startBrokerChild(dir, [])
    assert.equal((await get(broker, '/healthz')).status, 200)
    broker.child.kill('SIGINT')
    assert.equal(await broker.exited, 0)
    assert.match(broker.output(), /"event":"broker-stopped","forced":false/)
  })

  it('cuts a request that outlives --shutdown-timeout and still exits 0', async () => {
    const broker = await startBrokerChild(dir, ['--shutdown-timeout', '1'])
    const socket = await startSlowRequest(broker, '{"never":"sent"}')
    socket.on('error', () => {})
    broker.child.kill('SIGTERM')
    assert.equal(await broker.exited, 0)
    assert.match(broker.output(), /"event":"broker-stopped","forced":true/)
    socket.destroy()
  })

  it('stops at once on a second signal while draining', async () => {
    const broker = await startBrokerChild(dir, ['--drain-delay', '600'])
    broker.child.kill('SIGTERM')
    let ready = await get(broker, '/readyz')
    while (ready.status === 200) ready = await get(broker, '/readyz')
    assert.equal(ready.status, 503)
    const signal = new Promise((resolve) => broker.child.on('exit', (_code, sig) => resolve(sig)))
    broker.child.kill('SIGINT')
    assert.equal(await signal, 'SIGINT')
  })

  it('refuses a malformed --rate-limit before starting', async () => {
    const entry = cliEntry()
    const child = spawn(
      entry.execPath,
      [...entry.execArgv, entry.main, 'broker', 'start', '--rate-limit', 'lots'],
      { cwd: dir },
    )
    let err = ''
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    assert.notEqual(code, 0)
    assert.match(err, /ERR_BROKER_CONFIG/)
  })
})

/** A CA and a clientAuth certificate made by the openssl command line, in `dir`. */
function opensslClientPki(t: TestContext, dir: string): boolean {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  try {
    openssl('version')
  } catch {
    t.skip('openssl is not installed: cannot make a test client CA')
    return false
  }
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'admin-ca.pem',
    '-subj',
    '/CN=Admin CA',
    '-days',
    '1',
  )
  openssl('req', '-new', ...ec, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=alice')
  openssl(
    'x509',
    '-req',
    '-in',
    'client.csr',
    '-CA',
    'admin-ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'client.pem',
    '-days',
    '1',
    '-extfile',
    'client.ext',
  )
  return true
}

describe('admin commands against a broker that requires admin mTLS', () => {
  let dir: string
  let broker: RunningBroker | undefined
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-mtls-'))
    await writeFile(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  })
  after(async () => {
    await broker?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('key create needs --client-cert/--client-key from the admin CA', async (t) => {
    if (!opensslClientPki(t, dir)) return
    const owner = await generateOwnerKey()
    await writeFile(join(dir, 'owner.jwk'), JSON.stringify(owner.privateJwk))
    broker = await startBroker({
      unsealKey: systemRandom(32),
      owners: [owner.publicJwk],
      adminClientCaPem: await readFile(join(dir, 'admin-ca.pem'), 'utf8'),
    })
    await writeFile(join(dir, 'broker-ca.pem'), broker.caPem)
    const base = ['key', 'create', 'acme/taxi', '--broker', broker.url, '--ca', 'broker-ca.pem']
    const without = await runInProcess(base, dir)
    assert.notEqual(without.status, 0)
    assert.match(without.stderr, /ERR_BROKER_CLIENT_CERT/)
    const half = await runInProcess([...base, '--client-cert', 'client.pem'], dir)
    assert.match(half.stderr, /ERR_CLI_USAGE/)
    const ok = await runInProcess(
      [...base, '--client-cert', 'client.pem', '--client-key', 'client.key', '--json'],
      dir,
    )
    assert.equal(ok.status, 0, ok.stderr)
    assert.equal(JSON.parse(ok.stdout).id, 'subrosa:acme/taxi')
  })
})
