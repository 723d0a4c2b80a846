// Test support only (not exported): a loopback HTTP server that counts hits, and the shared
// vectors read in place from ../shared/vectors (never copied; see its SOURCES.md).
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { TestContext } from 'node:test'

/** One canned answer. */
export type Route = {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
  readonly body: Uint8Array | string
}

export type TestServer = {
  readonly url: string
  /** Requests per path+query, including unknown ones. */
  readonly hits: Map<string, number>
  /** Routes by path+query; change them between calls. */
  readonly routes: Map<string, Route>
  total(): number
  close(): Promise<void>
}

/** Serve `routes` on 127.0.0.1 (port 0); anything else is a 404. */
export async function startServer(routes: Map<string, Route>): Promise<TestServer> {
  const hits = new Map<string, number>()
  const server = createServer((req, res) => {
    const key = req.url ?? ''
    hits.set(key, (hits.get(key) ?? 0) + 1)
    const route = routes.get(key)
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found')
      return
    }
    res.writeHead(route.status ?? 200, { ...route.headers }).end(route.body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    routes,
    total: () => [...hits.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections()
        server.close((error) => (error ? reject(error) : resolve()))
      }),
  }
}

const env = process.env.SUBROSA_VECTORS

/** ../shared/vectors relative to the repository root, or $SUBROSA_VECTORS. */
export const VECTORS =
  env === undefined
    ? new URL('../../../../../shared/vectors/', import.meta.url)
    : new URL(`file://${env.replace(/\/?$/, '/')}`)

/** True when every named vector exists; otherwise skips the test with a message naming them. */
export function haveVectors(t: TestContext, ...names: string[]): boolean {
  const missing = names.filter((n) => !existsSync(new URL(n, VECTORS)))
  if (missing.length === 0) return true
  t.skip(
    `collateral vectors absent (${missing.map((n) => new URL(n, VECTORS).pathname).join(', ')}): set SUBROSA_VECTORS or provide ../shared/vectors`,
  )
  return false
}

export function readVector(name: string): Uint8Array {
  return new Uint8Array(readFileSync(new URL(name, VECTORS)))
}

export function readVectorText(name: string): string {
  return readFileSync(new URL(name, VECTORS), 'utf8')
}

/** Vectors the PCS tests serve. */
export const PCS_VECTORS = [
  'go-tdx-guest/sample_tcbInfo_response',
  'go-tdx-guest/sample_qeIdentity_response',
  'go-tdx-guest/pckcrl',
  'go-tdx-guest/rootcrl.der',
  'go-tdx-guest/trusted_root.pem',
  'automata-dcap-attestation/signing.der',
  'dcap-qvl/tdx_quote_collateral.json',
]

const pem = (der: Uint8Array) =>
  `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`

/**
 * The issuer chains Intel's PCS sends for the go-tdx-guest 2023 collateral: the (old) TCB
 * Signing certificate + root, and the PCK Platform CA (from dcap-qvl's collateral) + root.
 */
export function intelChains(): { tcbSigning: string; pckPlatform: string } {
  const root = readVectorText('go-tdx-guest/trusted_root.pem')
  const collateral: { pck_crl_issuer_chain: string } = JSON.parse(
    readVectorText('dcap-qvl/tdx_quote_collateral.json'),
  )
  const platformCa = collateral.pck_crl_issuer_chain.match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/,
  )?.[0]
  if (platformCa === undefined) throw new Error('no PCK Platform CA in dcap-qvl collateral')
  return {
    tcbSigning: pem(readVector('automata-dcap-attestation/signing.der')) + root,
    pckPlatform: `${platformCa.trimEnd()}\n${root}`,
  }
}

/** The go-tdx-guest collateral as Intel's PCS v4 serves it, keyed by path+query. */
export function pcsRoutes(fmspc = '50806f000000'): Map<string, Route> {
  const { tcbSigning, pckPlatform } = intelChains()
  return new Map<string, Route>([
    [
      `/tdx/certification/v4/tcb?fmspc=${fmspc}`,
      {
        headers: { 'TCB-Info-Issuer-Chain': encodeURIComponent(tcbSigning) },
        body: readVector('go-tdx-guest/sample_tcbInfo_response'),
      },
    ],
    [
      '/tdx/certification/v4/qe/identity',
      {
        headers: { 'SGX-Enclave-Identity-Issuer-Chain': encodeURIComponent(tcbSigning) },
        body: readVector('go-tdx-guest/sample_qeIdentity_response'),
      },
    ],
    [
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      {
        headers: { 'SGX-PCK-CRL-Issuer-Chain': encodeURIComponent(pckPlatform) },
        body: readVector('go-tdx-guest/pckcrl'),
      },
    ],
    ['/sgx/certification/v4/rootcacrl', { body: readVector('go-tdx-guest/rootcrl.der') }],
  ])
}
