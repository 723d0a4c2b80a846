import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { startBroker } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import { PORTAL_DIST } from '@subrosa/portal'
import { main } from '../cli.ts'
import { capture } from '../testing/capture.ts'

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return typeof address === 'object' && address !== null ? address.port : 0
}

describe('subrosa portal', () => {
  it('refuses a bad port and a broker it cannot reach with typed errors', async () => {
    const io = capture()
    assert.equal(await main(['portal', '--port', '0'], io), 2)
    assert.match(io.stderr.join(''), /ERR_CLI_USAGE/)
    // The clerk portal's service needs https, a workload and a measurement or signer.
    for (const args of [
      [
        '--service',
        'http://127.0.0.1:9443',
        '--service-workload',
        'a/b/c',
        '--service-measurement',
        'ab',
      ],
      ['--service', 'https://127.0.0.1:9443', '--service-measurement', 'ab'],
      ['--service', 'https://127.0.0.1:9443', '--service-workload', 'a/b/c'],
    ]) {
      const usage = capture()
      assert.equal(await main(['portal', '--port', '8080', ...args], usage), 2, args.join(' '))
      assert.match(usage.stderr.join(''), /ERR_CLI_USAGE/)
    }
    if (!existsSync(join(PORTAL_DIST, 'index.html'))) return
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-portal-cli-'))
    try {
      const broker = await startBroker({ dataDir: dir, unsealKey: systemRandom(32) })
      await broker.close()
      const down = capture()
      const code = await main(
        ['portal', '--data-dir', dir, '--port', String(await freePort())],
        down,
      )
      assert.notEqual(code, 0)
      assert.match(down.stderr.join(''), /ERR_CLI_PORTAL/)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('serves the built portal for the broker of the data directory until stopped', {
    skip: existsSync(join(PORTAL_DIST, 'index.html')) ? false : 'portal not built',
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-portal-cli-'))
    const broker = await startBroker({ dataDir: dir, unsealKey: systemRandom(32) })
    try {
      const port = await freePort()
      const io = capture()
      const done = main(['portal', '--data-dir', dir, '--port', String(port)], io)
      const url = `http://127.0.0.1:${port}`
      let res: Response | undefined
      for (let i = 0; i < 100 && res === undefined; i++) {
        res = await fetch(`${url}/config.json`).catch(() => undefined)
        if (res === undefined) await new Promise((r) => setTimeout(r, 50))
      }
      assert.deepEqual(await res?.json(), { broker: broker.url })
      assert.match(io.stdout.join(''), /--cors-origin http:\/\/127\.0\.0\.1:\d+/)
      assert.match(io.stdout.join(''), /--ignore-certificate-errors-spki-list=[A-Za-z0-9+/]{43}=/)
      process.emit('SIGINT')
      assert.equal(await done, 0)
      // --json: one line with what a script needs to start Chromium and the broker.
      const jsonPort = await freePort()
      const jsonIo = capture()
      const jsonDone = main(
        [
          'portal',
          '--data-dir',
          dir,
          '--port',
          String(jsonPort),
          '--json',
          // The clerk portal too: its service goes to config.json and the CSP.
          '--service',
          'https://127.0.0.1:9443',
          '--service-workload',
          'health/clinic/api',
          '--service-measurement',
          'ab'.repeat(48),
          '--allow-sim',
        ],
        jsonIo,
      )
      for (let i = 0; i < 100 && jsonIo.stdout.length === 0; i++)
        await new Promise((r) => setTimeout(r, 50))
      const printed = JSON.parse(jsonIo.stdout.join('')) as Record<string, string>
      assert.deepEqual(
        { ...printed, spkiPin: undefined },
        {
          url: `http://127.0.0.1:${jsonPort}/`,
          broker: broker.url,
          corsOrigin: `http://127.0.0.1:${jsonPort}`,
          spkiPin: undefined,
          clerk: `http://127.0.0.1:${jsonPort}/#/clerk`,
          service: 'https://127.0.0.1:9443',
        },
      )
      const config = await fetch(`http://127.0.0.1:${jsonPort}/config.json`)
      assert.match(
        config.headers.get('content-security-policy') ?? '',
        /https:\/\/127\.0\.0\.1:9443/,
      )
      assert.deepEqual(((await config.json()) as { clerk: unknown }).clerk, {
        service: 'https://127.0.0.1:9443',
        audience: 'api',
        workload: 'health/clinic/api',
        measurement: ['ab'.repeat(48)],
        signer: [],
        allowSim: true,
      })
      assert.match(printed.spkiPin ?? '', /^[A-Za-z0-9+/]{43}=$/)
      process.emit('SIGINT')
      assert.equal(await jsonDone, 0)
    } finally {
      await broker.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
