import { randomUUID } from 'node:crypto'
import { STATUS_CODES } from 'node:http'
import type { TLSSocket } from 'node:tls'
import { problemType } from '@subrosa/protocol'
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { requestIdOf } from './logging.ts'
import { BrokerMetrics, METRICS_CONTENT_TYPE } from './metrics.ts'
import { openApiDocument } from './openapi.ts'
import { type RateLimit, RateLimiter } from './rate-limit.ts'

/** Operational options of the broker app (all off by default). */
export type OperationsOptions = {
  /** Where request counts and latencies go; a fresh registry when absent. */
  readonly metrics?: BrokerMetrics | undefined
  /** Token bucket per client IP address, for every route but health and metrics. */
  readonly rateLimit?: RateLimit | undefined
  /** Token bucket per authenticated owner id, for admin and owner KMS calls. */
  readonly ownerRateLimit?: RateLimit | undefined
  /**
   * `/admin/*` needs a TLS client certificate that verified against the CA the HTTPS server was
   * given (`ca`, with `requestCert`), in addition to the owner proof.
   */
  readonly requireAdminClientCert?: boolean | undefined
  /** Browser origins allowed to call the broker (CORS), e.g. the portal's; see `installCors`. */
  readonly corsOrigins?: readonly string[] | undefined
  /** Monotonic milliseconds for the rate limiters (tests move it). */
  readonly monotonicNow?: (() => number) | undefined
}

/** The operational state of one app: metrics, drain flags, owner rate limit. */
export type Operations = {
  readonly metrics: BrokerMetrics
  /** `/readyz` answers 503 (set first when shutting down). */
  draining: boolean
  /** The server is closing: new requests get 503 and `connection: close`. */
  closing: boolean
  /**
   * Take a token for an authenticated owner.
   *
   * @throws BrokerError `ERR_BROKER_RATE_LIMITED` (details `retryAfterSeconds`).
   */
  limitOwner(ownerId: string): void
  /** The routes registered after {@link installOperations} (HEAD twins left out). */
  routes(): { method: string; url: string }[]
}

/** Routes outside rate limits and client-certificate checks. */
const EXEMPT = new Set(['/healthz', '/readyz', '/metrics'])
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2'
const READY_TIMEOUT_MS = 2000

/** Fastify constructor options the operational layer needs. */
export function operationsServerOptions(): Pick<
  FastifyServerOptions,
  'genReqId' | 'return503OnClosing' | 'frameworkErrors' | 'clientErrorHandler'
> {
  return {
    genReqId: (req) => requestIdOf(req.headers['x-request-id'], randomUUID),
    // Requests arriving while closing get our problem+json 503 from the onRequest hook.
    return503OnClosing: false,
    // A URL that does not decode, before any route or hook runs.
    frameworkErrors: (_error, request, res) => {
      ;(res as FastifyReply)
        .code(400)
        .header('x-request-id', request.id)
        .header('content-type', 'application/problem+json')
        .send(malformed(400, 'The request URL is malformed'))
    },
    // Bytes that are not HTTP at all (or headers too large): answered on the socket, then closed.
    clientErrorHandler: (error, socket) => {
      if (!socket.writable) {
        socket.destroy()
        return
      }
      const code = (error as { code?: unknown }).code
      const status =
        code === 'HPE_HEADER_OVERFLOW' ? 431 : code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
      const body = JSON.stringify(malformed(status, 'The request is not valid HTTP'))
      socket.end(
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/problem+json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      )
    },
  }
}

function malformed(status: number, detail: string) {
  const code = 'ERR_PROTOCOL_MALFORMED'
  return { type: problemType(code), title: code, status, detail, code }
}

/**
 * Install request ids, access logs, metrics, rate limits, the admin client-certificate gate and
 * the health, readiness, metrics and OpenAPI routes. Call before any other route is added, so
 * that every route is seen (for 405 answers and the OpenAPI check).
 */
export function installOperations(
  app: FastifyInstance,
  ctx: BrokerContext,
  options: OperationsOptions = {},
): Operations {
  const metrics = options.metrics ?? new BrokerMetrics(ctx.clock())
  const perIp = options.rateLimit && new RateLimiter(options.rateLimit, options.monotonicNow)
  const perOwner =
    options.ownerRateLimit && new RateLimiter(options.ownerRateLimit, options.monotonicNow)
  const routes: { method: string; url: string }[] = []
  const ops: Operations = {
    metrics,
    draining: false,
    closing: false,
    limitOwner(ownerId) {
      const taken = perOwner?.take(ownerId)
      if (taken !== undefined && !taken.ok) {
        ctx.log({ event: 'rate-limited', scope: 'owner' })
        throw limited(taken.retryAfterSeconds)
      }
    },
    routes: () => routes.map((r) => ({ ...r })),
  }

  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: route.url })
    }
  })

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    const path = pathOf(request)
    if (EXEMPT.has(path)) return
    if (ops.closing) {
      reply.header('connection', 'close')
      throw new BrokerError('ERR_BROKER_UNAVAILABLE', 'The broker is shutting down', {
        details: { draining: true },
      })
    }
    const taken = perIp?.take(request.ip)
    if (taken !== undefined && !taken.ok) {
      ctx.log({ event: 'rate-limited', scope: 'ip', requestId: request.id })
      throw limited(taken.retryAfterSeconds)
    }
    if (options.requireAdminClientCert === true && path.startsWith('/admin/'))
      checkClientCertificate(request)
  })

  // In-flight requests that finish while closing end their connection, so the server can close.
  app.addHook('onSend', async (_request, reply) => {
    if (ops.closing) reply.header('connection', 'close')
  })

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched'
    metrics.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000)
    ctx.log({
      event: 'http',
      requestId: request.id,
      method: request.method,
      route,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    })
  })

  app.get('/healthz', async () => ({ ok: true }))
  app.get('/readyz', async (_request, reply) => {
    const checks = {
      store: await storeReachable(ctx),
      unsealed: ctx.keys.rootKey.some((b) => b !== 0),
      draining: ops.draining,
    }
    if (checks.store && checks.unsealed && !checks.draining) return { ready: true, checks }
    reply.header('retry-after', '5')
    throw new BrokerError('ERR_BROKER_UNAVAILABLE', 'The broker is not ready', {
      details: checks,
    })
  })
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', METRICS_CONTENT_TYPE)
    return metrics.render(ops.draining)
  })
  app.get('/openapi.json', async () => openApiDocument(ctx.build, ctx.issuer || undefined))
  return ops
}

/**
 * The error for an unmatched request: `ERR_BROKER_METHOD_NOT_ALLOWED` (with an `Allow` header)
 * when the path exists under other methods, else `ERR_BROKER_NOT_FOUND`.
 */
export function unmatchedError(
  ops: Operations,
  request: FastifyRequest,
  reply: FastifyReply,
): BrokerError {
  const path = pathOf(request)
  const allow = [
    ...new Set(
      ops
        .routes()
        .filter((r) => routePattern(r.url).test(path))
        .map((r) => r.method),
    ),
  ]
  if (allow.length === 0) return new BrokerError('ERR_BROKER_NOT_FOUND', 'No such endpoint')
  if (allow.includes('GET')) allow.push('HEAD')
  reply.header('allow', allow.join(', '))
  return new BrokerError(
    'ERR_BROKER_METHOD_NOT_ALLOWED',
    `${request.method} is not allowed here (allowed: ${allow.join(', ')})`,
  )
}

/** The error code of a Fastify client error, by status. */
export function clientErrorCode(status: number): string {
  if (status === 413) return 'ERR_BROKER_BODY_TOO_LARGE'
  if (status === 415) return 'ERR_BROKER_MEDIA_TYPE'
  return 'ERR_PROTOCOL_MALFORMED'
}

function limited(retryAfterSeconds: number): BrokerError {
  return new BrokerError('ERR_BROKER_RATE_LIMITED', 'Too many requests; retry later', {
    details: { retryAfterSeconds },
  })
}

function checkClientCertificate(request: FastifyRequest): void {
  const socket = request.raw.socket as Partial<TLSSocket>
  const cert = socket.getPeerCertificate?.()
  if (socket.authorized !== true || cert === undefined || Object.keys(cert).length === 0) {
    throw new BrokerError(
      'ERR_BROKER_CLIENT_CERT',
      'Admin calls need a TLS client certificate issued by the admin client CA',
    )
  }
  if (cert.ext_key_usage !== undefined && !cert.ext_key_usage.includes(CLIENT_AUTH_EKU)) {
    throw new BrokerError(
      'ERR_BROKER_CLIENT_CERT',
      'The TLS client certificate is not for client authentication',
    )
  }
}

async function storeReachable(ctx: BrokerContext): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timeout')), READY_TIMEOUT_MS)
    })
    await Promise.race([ctx.db.query('SELECT 1'), timeout])
    return true
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

function pathOf(request: FastifyRequest): string {
  const q = request.url.indexOf('?')
  return q === -1 ? request.url : request.url.slice(0, q)
}

function routePattern(url: string): RegExp {
  const escaped = url
    .split('/')
    .map((part) => (part.startsWith(':') ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/')
  return new RegExp(`^${escaped}/?$`)
}
