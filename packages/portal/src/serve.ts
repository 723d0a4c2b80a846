// Serve the built portal (packages/portal/dist) on loopback HTTP, with the broker URL (and the
// clerk portal's service and expectation) as ./config.json and a Content-Security-Policy that
// lets the page talk to that broker and that service and to nothing else. ADRs 0030 and 0031.
import { readFile, stat } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { extname, join, normalize, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where `npm run build -w @subrosa/portal` writes the app. */
export const PORTAL_DIST = fileURLToPath(new URL('../dist/', import.meta.url))

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
}

/** Options of {@link servePortal}. */
export type ServePortalOptions = {
  /** The broker's base URL (https), the only host the page may contact besides its own. */
  readonly broker: string
  /** The clerk portal's service and what it must be attested as (ADR 0031). */
  readonly clerk?: ClerkPortalOptions
  readonly dir?: string
  readonly host?: string
  /** 0 = any free port. */
  readonly port?: number
}

/** The service the clerk portal sends records to, and what its attestation must show. */
export type ClerkPortalOptions = {
  /** The service's https base URL (its origin is added to the CSP's connect-src). */
  readonly service: string
  /** `<namespace>/<policy>/<workload>` the service must be attested as. */
  readonly workload: string
  /** Accepted measurements (hex); a measurement or a signer is required. */
  readonly measurement?: readonly string[]
  readonly signer?: readonly string[]
  /** Accepted platform TCB statuses (default `UpToDate`). */
  readonly tcbStatuses?: readonly string[]
  /** Accept a service in the sim TEE (shown as "simulated TEE — not secure"). Default false. */
  readonly allowSim?: boolean
  /** The service's name, the audience of clerk proofs (default `api`). */
  readonly audience?: string
}

/** The clerk section of config.json. @throws TypeError on an incomplete expectation. */
export function clerkConfig(options: ClerkPortalOptions): Record<string, unknown> {
  const service = new URL(options.service)
  if (service.protocol !== 'https:') throw new TypeError('The service URL must be https://')
  if (!/^[^/\s]+\/[^/\s]+\/[^/\s]+$/.test(options.workload))
    throw new TypeError('The service workload must be <namespace>/<policy>/<workload>')
  const measurement = options.measurement ?? []
  const signer = options.signer ?? []
  if (measurement.length === 0 && signer.length === 0)
    throw new TypeError('The service needs an expected measurement or signer')
  return {
    service: service.href.replace(/\/+$/, ''),
    audience: options.audience ?? 'api',
    workload: options.workload,
    measurement,
    signer,
    ...(options.tcbStatuses === undefined ? {} : { tcbStatuses: options.tcbStatuses }),
    allowSim: options.allowSim === true,
  }
}

/** A running portal server. */
export type RunningPortal = {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

/** The CSP of every response: own origin plus the broker (and service) for fetches; no inline script. */
export function portalCsp(broker: string, service?: string): string {
  const origin = [broker, ...(service === undefined ? [] : [service])]
    .map((url) => new URL(url).origin)
    .filter((o, i, all) => all.indexOf(o) === i)
    .join(' ')
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ${origin}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ')
}

/**
 * Serve the portal. Only GET and HEAD; paths resolve inside `dir` (no traversal); unknown paths
 * answer 404. `/config.json` tells the app the broker URL.
 */
export async function servePortal(options: ServePortalOptions): Promise<RunningPortal> {
  const broker = new URL(options.broker)
  if (broker.protocol !== 'https:') throw new TypeError('The broker URL must be https://')
  const brokerUrl = broker.href.replace(/\/+$/, '')
  const dir = normalize(options.dir ?? PORTAL_DIST)
  const clerk = options.clerk === undefined ? undefined : clerkConfig(options.clerk)
  const csp = portalCsp(brokerUrl, options.clerk?.service)
  const config = `${JSON.stringify({ broker: brokerUrl, ...(clerk === undefined ? {} : { clerk }) })}\n`
  const server = createServer((request, response) => {
    const headers = {
      'content-security-policy': csp,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    }
    const send = (status: number, type: string, body: string | Buffer) => {
      response.writeHead(status, { ...headers, 'content-type': type })
      response.end(request.method === 'HEAD' ? undefined : body)
    }
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return send(405, 'text/plain', 'Method not allowed\n')
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://portal').pathname)
    if (path === '/config.json') return send(200, 'application/json', config)
    const file = normalize(join(dir, path === '/' ? 'index.html' : path))
    if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep))
      return send(404, 'text/plain', 'Not found\n')
    const type = TYPES[extname(file)]
    if (type === undefined) return send(404, 'text/plain', 'Not found\n')
    stat(file)
      .then((s) => (s.isFile() ? readFile(file) : undefined))
      .then(
        (body) =>
          body === undefined ? send(404, 'text/plain', 'Not found\n') : send(200, type, body),
        () => send(404, 'text/plain', 'Not found\n'),
      )
  })
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
