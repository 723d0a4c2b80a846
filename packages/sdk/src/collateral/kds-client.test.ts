import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createCollateralCache } from './cache.ts'
import { createKdsClient } from './kds-client.ts'
import { haveVectors, type Route, readVector, readVectorText, startServer } from './test-support.ts'

const CHAIN = 'go-sev-guest/ask_ark_milan.pem'
const VCEK = 'go-sev-guest/vcek.testcer'
// A DER CRL to carry over the wire; no AMD CRL is among the public vectors.
const CRL = 'go-tdx-guest/rootcrl.der'
const HWID = 'AB'.repeat(64)
const TCB = { bootloader: 3, tee: 0, snp: 8, microcode: 115 }
const NOW = new Date('2023-06-01T00:00:00Z')

function kdsRoutes(): Map<string, Route> {
  return new Map<string, Route>([
    ['/vcek/v1/Milan/cert_chain', { body: readVectorText(CHAIN) }],
    [
      `/vcek/v1/Milan/${HWID.toLowerCase()}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
      { headers: { 'content-type': 'application/x-x509-ca-cert' }, body: readVector(VCEK) },
    ],
    [
      '/vcek/v1/Turin/abababababababab?fmcSPL=1&blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115',
      { body: readVector(VCEK) },
    ],
    ['/vcek/v1/Milan/crl', { body: readVector(CRL) }],
  ])
}

describe('AMD KDS client', () => {
  it('fetches the certificate chain, a VCEK and the CRL as served, then from the cache', async (t) => {
    if (!haveVectors(t, CHAIN, VCEK, CRL)) return
    const server = await startServer(kdsRoutes())
    try {
      const cache = createCollateralCache({ maxAgeSeconds: 86400 })
      const kds = createKdsClient({ baseUrl: `${server.url}/`, cache, now: () => NOW })
      for (let round = 0; round < 2; round++) {
        assert.equal(await kds.getCertChain('Milan', 'vcek'), readVectorText(CHAIN))
        const vcek = await kds.getVcek({ product: 'Milan', hwid: HWID, tcb: TCB })
        assert.deepEqual(vcek, readVector(VCEK))
        assert.deepEqual(await kds.getCrl('Milan'), readVector(CRL))
        assert.equal(server.total(), 3, `round ${round}: one request per item`)
      }
    } finally {
      await server.close()
    }
  })

  it('asks Turin VCEKs by the first 8 bytes of the hwid, with the FMC SPL', async (t) => {
    if (!haveVectors(t, CHAIN, VCEK, CRL)) return
    const server = await startServer(kdsRoutes())
    try {
      const kds = createKdsClient({ baseUrl: server.url })
      const vcek = await kds.getVcek({ product: 'Turin', hwid: HWID, tcb: { ...TCB, fmc: 1 } })
      assert.deepEqual(vcek, readVector(VCEK))
      await assert.rejects(kds.getVcek({ product: 'Turin', hwid: HWID, tcb: TCB }), {
        code: 'ERR_SDK_CONFIG',
      })
    } finally {
      await server.close()
    }
  })

  it('turns bad answers and bad requests into typed errors', async (t) => {
    if (!haveVectors(t, CHAIN, VCEK, CRL)) return
    const routes = kdsRoutes()
    const server = await startServer(routes)
    try {
      const kds = createKdsClient({ baseUrl: server.url })
      const oneCert = readVectorText(CHAIN).split('-----END CERTIFICATE-----')[0]
      routes.set('/vcek/v1/Milan/cert_chain', { body: `${oneCert}-----END CERTIFICATE-----\n` })
      await assert.rejects(kds.getCertChain('Milan', 'vcek'), { code: 'ERR_SDK_RESPONSE' })
      routes.set('/vcek/v1/Milan/cert_chain', { status: 429, body: 'slow down' })
      await assert.rejects(kds.getCertChain('Milan', 'vcek'), { code: 'ERR_SDK_RESPONSE' })
      await assert.rejects(kds.getCertChain('Genoa', 'vlek'), { code: 'ERR_SDK_RESPONSE' })
      for (const path of [...routes.keys()].filter((p) => p.includes('SPL'))) {
        routes.set(path, { body: 'garbage' })
      }
      await assert.rejects(kds.getVcek({ product: 'Milan', hwid: HWID, tcb: TCB }), {
        code: 'ERR_SDK_RESPONSE',
      })
      routes.set('/vcek/v1/Milan/crl', { body: readVector(VCEK) })
      await assert.rejects(kds.getCrl('Milan'), { code: 'ERR_SDK_RESPONSE' })

      const bad = [
        kds.getVcek({ product: 'Naples' as 'Milan', hwid: HWID, tcb: TCB }),
        kds.getVcek({ product: 'Milan', hwid: 'abcd', tcb: TCB }),
        kds.getVcek({ product: 'Milan', hwid: 'zz'.repeat(64), tcb: TCB }),
        kds.getVcek({ product: 'Milan', hwid: HWID, tcb: { ...TCB, snp: 256 } }),
        kds.getCertChain('Milan', 'ask' as 'vcek'),
      ]
      for (const call of bad) await assert.rejects(call, { code: 'ERR_SDK_CONFIG' })
    } finally {
      await server.close()
    }
  })
})
