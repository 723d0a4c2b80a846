import assert from 'node:assert/strict'
import { request } from 'node:https'
import { after, before, describe, it } from 'node:test'
import { systemRandom, toBase64Url } from '@subrosa/core'
import {
  ADMIN_AUTH_SCHEME,
  createAdminProof,
  generateOwnerKey,
  type OwnerKey,
} from '@subrosa/protocol'
import { type RunningBroker, startBroker } from './start.ts'
import { createTestCa, issueTestCertificate, type TestCa } from './testing/client-ca.ts'

type Reply = { status: number; body: Record<string, unknown> }

describe('admin mTLS over real loopback TLS', () => {
  let broker: RunningBroker
  let owner: OwnerKey
  let ca: TestCa
  let client: { certPem: string; keyPem: string }

  before(async () => {
    owner = await generateOwnerKey()
    ca = await createTestCa('Subrosa Test Admin CA')
    client = await issueTestCertificate(ca, 'custodian-alice')
    broker = await startBroker({
      unsealKey: systemRandom(32),
      owners: [owner.publicJwk],
      adminClientCaPem: ca.certPem,
    })
  })
  after(() => broker.close())

  const call = async (
    path: string,
    options: { cert?: { certPem: string; keyPem: string }; signed?: boolean } = {},
  ): Promise<Reply> => {
    const headers: Record<string, string> = {}
    if (options.signed !== false) {
      const proof = await createAdminProof(
        { method: 'GET', path, body: new Uint8Array() },
        owner,
        new Date(),
        toBase64Url(systemRandom(18)),
      )
      headers.authorization = `${ADMIN_AUTH_SCHEME} ${proof}`
    }
    return new Promise((resolve, reject) => {
      const req = request(
        `${broker.url}${path}`,
        {
          method: 'GET',
          ca: broker.caPem,
          agent: false,
          headers,
          ...(options.cert === undefined
            ? {}
            : { cert: options.cert.certPem, key: options.cert.keyPem }),
        },
        (res) => {
          let text = ''
          res.on('data', (d: Buffer) => {
            text += d.toString()
          })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }))
        },
      )
      req.on('error', reject)
      req.end()
    })
  }

  it('serves an owner-signed admin call with a client certificate from the CA', async () => {
    const res = await call('/admin/v0/whoami', { cert: client })
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.owner, owner.id)
  })

  it('refuses an admin call without a client certificate, even with an owner proof', async () => {
    const res = await call('/admin/v0/whoami')
    assert.equal(res.status, 401)
    assert.equal(res.body.code, 'ERR_BROKER_CLIENT_CERT')
  })

  it('refuses a client certificate from another CA', async () => {
    const stranger = await issueTestCertificate(await createTestCa('Other CA'), 'mallory')
    const res = await call('/admin/v0/whoami', { cert: stranger })
    assert.equal(res.body.code, 'ERR_BROKER_CLIENT_CERT')
  })

  it('refuses a certificate of the CA that is not for client authentication', async () => {
    const server = await issueTestCertificate(ca, 'some-server', { usage: 'serverAuth' })
    const res = await call('/admin/v0/whoami', { cert: server })
    assert.equal(res.body.code, 'ERR_BROKER_CLIENT_CERT')
  })

  it('still needs the owner proof with a client certificate', async () => {
    const res = await call('/admin/v0/whoami', { cert: client, signed: false })
    assert.equal(res.status, 401)
    assert.equal(res.body.code, 'ERR_BROKER_UNAUTHENTICATED')
  })

  it('lets workload, well-known and health routes through without a certificate', async () => {
    assert.equal((await call('/.well-known/jwks.json', { signed: false })).status, 200)
    assert.equal((await call('/readyz', { signed: false })).status, 200)
  })
})

describe('admin without mTLS configured', () => {
  it('serves admin calls without a client certificate', async () => {
    const owner = await generateOwnerKey()
    const broker = await startBroker({ unsealKey: systemRandom(32), owners: [owner.publicJwk] })
    try {
      const path = '/admin/v0/whoami'
      const proof = await createAdminProof(
        { method: 'GET', path, body: new Uint8Array() },
        owner,
        new Date(),
        toBase64Url(systemRandom(18)),
      )
      const status = await new Promise<number>((resolve, reject) => {
        request(
          `${broker.url}${path}`,
          {
            ca: broker.caPem,
            agent: false,
            headers: { authorization: `${ADMIN_AUTH_SCHEME} ${proof}` },
          },
          (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          },
        )
          .on('error', reject)
          .end()
      })
      assert.equal(status, 200)
    } finally {
      await broker.close()
    }
  })
})
