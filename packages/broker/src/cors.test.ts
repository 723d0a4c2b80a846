import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import Fastify from 'fastify'
import { installCors } from './cors.ts'

function app(origins: string[]) {
  const a = Fastify()
  installCors(a, origins)
  a.get('/admin/v0/whoami', async () => ({ ok: true }))
  return a
}

describe('installCors', () => {
  it('answers the preflight and tags responses for an allowed origin only', async () => {
    const a = app(['http://127.0.0.1:8080'])
    const pre = await a.inject({
      method: 'OPTIONS',
      url: '/admin/v0/whoami',
      headers: { origin: 'http://127.0.0.1:8080', 'access-control-request-method': 'GET' },
    })
    assert.equal(pre.statusCode, 204)
    assert.equal(pre.headers['access-control-allow-origin'], 'http://127.0.0.1:8080')
    assert.match(String(pre.headers['access-control-allow-headers']), /authorization/)
    const get = await a.inject({
      url: '/admin/v0/whoami',
      headers: { origin: 'http://127.0.0.1:8080' },
    })
    assert.equal(get.headers['access-control-allow-origin'], 'http://127.0.0.1:8080')
    assert.equal(get.headers['access-control-allow-credentials'], undefined)
    const other = await a.inject({
      url: '/admin/v0/whoami',
      headers: { origin: 'https://evil.test' },
    })
    assert.equal(other.headers['access-control-allow-origin'], undefined)
  })

  it('adds nothing when no origin is allowed', async () => {
    const res = await app([]).inject({
      url: '/admin/v0/whoami',
      headers: { origin: 'http://127.0.0.1:8080' },
    })
    assert.equal(res.headers['access-control-allow-origin'], undefined)
  })
})
