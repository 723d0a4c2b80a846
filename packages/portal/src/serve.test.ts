import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type RunningPortal, servePortal } from './serve.ts'

describe('servePortal', () => {
  let dir: string
  let portal: RunningPortal
  before(async () => {
    const root = await mkdtemp(join(tmpdir(), 'portal-'))
    dir = join(root, 'dist')
    await mkdir(join(dir, 'assets'), { recursive: true })
    await writeFile(join(dir, 'index.html'), '<!doctype html><title>t</title>')
    await writeFile(join(dir, 'assets', 'a.js'), 'export {}')
    await writeFile(join(root, 'secret.html'), 'outside')
    portal = await servePortal({ dir, broker: 'https://127.0.0.1:8443/' })
  })
  after(async () => {
    await portal.close()
    await rm(join(dir, '..'), { recursive: true, force: true })
  })

  it('serves the app with a CSP that allows only itself and the broker', async () => {
    const res = await fetch(`${portal.url}/`)
    assert.equal(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /text\/html/)
    const csp = res.headers.get('content-security-policy') ?? ''
    assert.match(csp, /connect-src 'self' https:\/\/127\.0\.0\.1:8443(;|$)/)
    assert.match(csp, /default-src 'none'/)
    assert.equal((await fetch(`${portal.url}/assets/a.js`)).status, 200)
  })

  it('tells the app its broker in config.json', async () => {
    const res = await fetch(`${portal.url}/config.json`)
    assert.deepEqual(await res.json(), { broker: 'https://127.0.0.1:8443' })
  })

  it('refuses paths outside the app, unknown types and writes', async () => {
    // Raw paths: fetch would normalize the dots away before sending.
    for (const path of ['/../secret.html', '/%2e%2e/secret.html', '/assets/..%2f..%2fsecret.html'])
      assert.equal(await rawStatus(portal.url, path), 404, path)
    assert.equal((await fetch(`${portal.url}/missing.js`)).status, 404)
    assert.equal((await fetch(`${portal.url}/`, { method: 'POST' })).status, 405)
  })

  it('adds the clerk service to config.json and to connect-src, and nothing else', async () => {
    const clerk = await servePortal({
      dir,
      broker: 'https://127.0.0.1:8443/',
      clerk: {
        service: 'https://127.0.0.1:9443',
        workload: 'health/clinic/api',
        measurement: ['ab'.repeat(48)],
        allowSim: true,
      },
    })
    try {
      const res = await fetch(`${clerk.url}/config.json`)
      const csp = res.headers.get('content-security-policy') ?? ''
      assert.match(
        csp,
        /connect-src 'self' https:\/\/127\.0\.0\.1:8443 https:\/\/127\.0\.0\.1:9443(;|$)/,
      )
      assert.deepEqual(await res.json(), {
        broker: 'https://127.0.0.1:8443',
        clerk: {
          service: 'https://127.0.0.1:9443',
          audience: 'api',
          workload: 'health/clinic/api',
          measurement: ['ab'.repeat(48)],
          signer: [],
          allowSim: true,
        },
      })
    } finally {
      await clerk.close()
    }
    const bad = (over: object) =>
      servePortal({
        dir,
        broker: 'https://127.0.0.1:8443',
        clerk: { service: 'https://s.test', workload: 'a/b/c', measurement: ['ab'], ...over },
      })
    await assert.rejects(bad({ service: 'http://s.test' }), TypeError)
    await assert.rejects(bad({ workload: 'api' }), TypeError)
    await assert.rejects(bad({ measurement: [] }), TypeError)
  })

  it('refuses a broker that is not https', async () => {
    await assert.rejects(servePortal({ dir, broker: 'http://127.0.0.1:8443' }), TypeError)
  })
})

function rawStatus(base: string, path: string): Promise<number | undefined> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, path, method: 'GET' }, (res) => {
      res.resume()
      resolve(res.statusCode)
    })
    req.on('error', reject)
    req.end()
  })
}
