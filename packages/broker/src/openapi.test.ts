import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { operationsOf } from './app.ts'
import { openApiPath, ROUTES } from './openapi.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'

type Operation = {
  operationId: string
  responses: Record<string, unknown>
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
  parameters?: { name: string; in: string }[]
}

describe('GET /openapi.json', () => {
  let tb: TestBroker
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>> }
  before(async () => {
    tb = await startTestBroker()
    const res = await tb.app.inject({ method: 'GET', url: '/openapi.json' })
    assert.equal(res.statusCode, 200)
    doc = res.json()
  })
  after(() => tb.close())

  it('documents exactly the routes the broker registered', () => {
    const registered = operationsOf(tb.app)
      .routes()
      .map((r) => `${r.method} ${openApiPath(r.url)}`)
      .sort()
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort()
    assert.deepEqual(documented, registered)
    assert.equal(new Set(registered).size, ROUTES.length)
    for (const expected of [
      'GET /kbs/v0/resource/{ns}/{policy}/{name}',
      'POST /admin/v0/policies',
      'GET /metrics',
      'GET /.well-known/jwks.json',
    ])
      assert.ok(registered.includes(expected), expected)
  })

  it('is an OpenAPI 3.1 document with unique operation ids, parameters and problem answers', () => {
    assert.equal(doc.openapi, '3.1.0')
    const ids = new Set<string>()
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const op of Object.values(ops)) {
        assert.ok(!ids.has(op.operationId), op.operationId)
        ids.add(op.operationId)
        assert.ok(op.responses.default, `${path} documents problem answers`)
        const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1])
        assert.deepEqual(
          (op.parameters ?? []).map((p) => p.name),
          params,
        )
      }
    }
  })

  it('describes request bodies with the wire schemas', () => {
    const keys = doc.paths['/admin/v0/keys']?.post?.requestBody?.content['application/json']
    assert.deepEqual(Object.keys((keys?.schema.properties as object) ?? {}).sort(), [
      'name',
      'namespace',
    ])
    const attest = doc.paths['/kbs/v0/attest']?.post?.requestBody?.content['application/json']
    assert.ok(((attest?.schema.required ?? []) as string[]).includes('runtime-data'))
  })
})
