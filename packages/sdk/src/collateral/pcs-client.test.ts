import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { createCollateralCache } from './cache.ts'
import { createPcsClient, INTEL_ROOT_CA_CRL_URL } from './pcs-client.ts'
import {
  haveVectors,
  intelChains,
  PCS_VECTORS,
  pcsRoutes,
  readVector,
  readVectorText,
  startServer,
} from './test-support.ts'

const FMSPC = '50806f000000'
const request = { tee: 'tdx', fmspc: FMSPC, ca: 'platform' } as const
// Inside every item's window: TCB info to 07-18, QE identity and PCK CRL to 07-08.
const JULY_1 = new Date('2023-07-01T01:00:00Z')

/** Where `needle` sits inside `haystack`, byte for byte, or -1. */
function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(haystack).indexOf(Buffer.from(needle))
}

describe('Intel PCS client', () => {
  it('returns the raw signed objects, issuer chains and CRLs as served', async (t) => {
    if (!haveVectors(t, ...PCS_VECTORS)) return
    const server = await startServer(pcsRoutes())
    try {
      const pcs = createPcsClient({ baseUrl: server.url, now: () => JULY_1 })
      const c = await pcs.getDcapCollateral(request)
      const tcbBody = readVector('go-tdx-guest/sample_tcbInfo_response')
      const qeBody = readVector('go-tdx-guest/sample_qeIdentity_response')
      assert.equal(indexOfBytes(tcbBody, utf8(`{"tcbInfo":${c.tcbInfo},"signature":"`)), 0)
      assert.equal(
        indexOfBytes(qeBody, utf8(`{"enclaveIdentity":${c.qeIdentity},"signature":"`)),
        0,
      )
      assert.ok(c.tcbInfo.startsWith('{"id":"TDX","version":3,'))
      assert.ok(c.qeIdentity.startsWith('{"id":"TD_QE",'))
      const tcbJson = JSON.parse(readVectorText('go-tdx-guest/sample_tcbInfo_response'))
      const qeJson = JSON.parse(readVectorText('go-tdx-guest/sample_qeIdentity_response'))
      assert.equal(c.tcbInfoSignature, tcbJson.signature)
      assert.equal(c.qeIdentitySignature, qeJson.signature)
      const chains = intelChains()
      assert.equal(c.tcbInfoIssuerChain, chains.tcbSigning)
      assert.equal(c.qeIdentityIssuerChain, chains.tcbSigning)
      assert.equal(c.pckCrlIssuerChain, chains.pckPlatform)
      assert.deepEqual(c.pckCrl, readVector('go-tdx-guest/pckcrl'))
      assert.deepEqual(c.rootCaCrl, readVector('go-tdx-guest/rootcrl.der'))
    } finally {
      await server.close()
    }
  })

  it('serves repeated calls from the cache, persisted across restarts', async (t) => {
    if (!haveVectors(t, ...PCS_VECTORS)) return
    const server = await startServer(pcsRoutes())
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-collateral-'))
    try {
      const options = { baseUrl: server.url, now: () => JULY_1 }
      const cache = createCollateralCache({ dir, maxAgeSeconds: 86400 })
      const first = await createPcsClient({ ...options, cache }).getDcapCollateral(request)
      assert.equal(server.total(), 4)
      const second = await createPcsClient({ ...options, cache }).getDcapCollateral(request)
      assert.equal(server.total(), 4, 'no request for a cached item')
      assert.deepEqual(second, first)
      const restarted = createCollateralCache({ dir, maxAgeSeconds: 86400 })
      const third = await createPcsClient({ ...options, cache: restarted }).getDcapCollateral(
        request,
      )
      assert.equal(server.total(), 4, 'served from the cache directory')
      assert.deepEqual(third, first)
    } finally {
      await server.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('never keeps an item past its own nextUpdate', async (t) => {
    if (!haveVectors(t, ...PCS_VECTORS)) return
    const server = await startServer(pcsRoutes())
    try {
      let now = new Date('2023-07-07T12:00:00Z')
      const cache = createCollateralCache({ maxAgeSeconds: 30 * 86400 })
      const pcs = createPcsClient({ baseUrl: server.url, cache, now: () => now })
      await pcs.getDcapCollateral(request)
      now = new Date('2023-07-08T08:00:00Z') // past the QE identity's and PCK CRL's nextUpdate
      await pcs.getDcapCollateral(request)
      assert.equal(server.hits.get('/tdx/certification/v4/qe/identity'), 2)
      assert.equal(server.hits.get('/sgx/certification/v4/pckcrl?ca=platform&encoding=der'), 2)
      assert.equal(server.hits.get(`/tdx/certification/v4/tcb?fmspc=${FMSPC}`), 1)
      assert.equal(server.hits.get('/sgx/certification/v4/rootcacrl'), 1)
    } finally {
      await server.close()
    }
  })

  it('accepts the legacy SGX-TCB-Info-Issuer-Chain header', async (t) => {
    if (!haveVectors(t, ...PCS_VECTORS)) return
    const routes = pcsRoutes()
    const path = `/tdx/certification/v4/tcb?fmspc=${FMSPC}`
    const route = routes.get(path)
    assert.ok(route)
    const chain = route.headers?.['TCB-Info-Issuer-Chain'] ?? ''
    routes.set(path, { ...route, headers: { 'SGX-TCB-Info-Issuer-Chain': chain } })
    const server = await startServer(routes)
    try {
      const info = await createPcsClient({ baseUrl: server.url }).getTcbInfo('tdx', FMSPC)
      assert.equal(info.issuerChain, intelChains().tcbSigning)
    } finally {
      await server.close()
    }
  })

  it('turns bad answers into typed errors and does not cache them', async (t) => {
    if (!haveVectors(t, ...PCS_VECTORS)) return
    const routes = pcsRoutes()
    const server = await startServer(routes)
    const tcbPath = `/tdx/certification/v4/tcb?fmspc=${FMSPC}`
    const good = routes.get(tcbPath)
    assert.ok(good)
    const cache = createCollateralCache({ maxAgeSeconds: 86400 })
    const pcs = createPcsClient({ baseUrl: server.url, cache, now: () => JULY_1 })
    const fails = async (route: Parameters<typeof routes.set>[1], code = 'ERR_SDK_RESPONSE') => {
      routes.set(tcbPath, route)
      await assert.rejects(pcs.getTcbInfo('tdx', FMSPC), { code })
    }
    try {
      await fails({ status: 500, body: 'oops' })
      await fails({ status: 404, body: '' })
      await fails({ headers: good.headers ?? {}, body: 'garbage' })
      await fails({ headers: good.headers ?? {}, body: '{"tcbInfo":{"id":"TDX"}}' })
      await fails({ headers: good.headers ?? {}, body: new Uint8Array([0xff, 0xfe]) })
      await fails({ headers: {}, body: good.body })
      await fails({ headers: { 'TCB-Info-Issuer-Chain': '%E0%A4%A' }, body: good.body })
      await fails({ headers: { 'TCB-Info-Issuer-Chain': 'not%20a%20PEM' }, body: good.body })
      const wrongFmspc = readVectorText('go-tdx-guest/sample_tcbInfo_response').replace(
        '"fmspc":"50806f000000"',
        '"fmspc":"00906ea10000"',
      )
      await fails({ headers: good.headers ?? {}, body: wrongFmspc })
      const duplicated = `{"tcbInfo":{},${readVectorText('go-tdx-guest/sample_tcbInfo_response').slice(1)}`
      await fails({ headers: good.headers ?? {}, body: duplicated })
      routes.set('/sgx/certification/v4/rootcacrl', { body: 'not a crl' })
      await assert.rejects(pcs.getRootCaCrl(), { code: 'ERR_SDK_RESPONSE' })

      routes.set(tcbPath, good)
      const before = server.hits.get(tcbPath) ?? 0
      await pcs.getTcbInfo('tdx', FMSPC)
      assert.equal(server.hits.get(tcbPath), before + 1, 'failures were not cached')
    } finally {
      await server.close()
    }
  })

  it('reports unreachable services, bad requests and bad configuration', async () => {
    const server = await startServer(new Map())
    const url = server.url
    await server.close()
    await assert.rejects(createPcsClient({ baseUrl: url }).getRootCaCrl(), {
      code: 'ERR_SDK_CONNECT',
    })
    const pcs = createPcsClient({ baseUrl: url })
    await assert.rejects(pcs.getTcbInfo('tdx', 'xyz'), { code: 'ERR_SDK_CONFIG' })
    await assert.rejects(pcs.getTcbInfo('sev' as 'tdx', FMSPC), { code: 'ERR_SDK_CONFIG' })
    await assert.rejects(pcs.getPckCrl('other' as 'platform'), { code: 'ERR_SDK_CONFIG' })
    assert.throws(() => createPcsClient({ baseUrl: 'ftp://x' }), { code: 'ERR_SDK_CONFIG' })
    assert.throws(() => createPcsClient({ baseUrl: 'not a url' }), { code: 'ERR_SDK_CONFIG' })
  })

  it("takes the root CA CRL from Intel's certificates site for the PCS", async () => {
    const urls: string[] = []
    const fetch = async (input: string | URL | Request) => {
      urls.push(String(input))
      return new Response('x', { status: 503 })
    }
    const pcs = createPcsClient({ baseUrl: 'https://api.trustedservices.intel.com/', fetch })
    await assert.rejects(pcs.getRootCaCrl(), { code: 'ERR_SDK_RESPONSE' })
    assert.deepEqual(urls, [INTEL_ROOT_CA_CRL_URL])
  })
})
