import type { FastifyInstance } from 'fastify'

/** Request headers a browser app (the portal) may send cross-origin. */
const ALLOWED_HEADERS = 'authorization, content-type'
const ALLOWED_METHODS = 'GET, POST, PUT'

/**
 * Let the listed browser origins (exact `scheme://host:port`, e.g. the portal served by
 * `subrosa portal` at `http://127.0.0.1:8080`) call the broker: answer CORS preflights and add
 * `Access-Control-Allow-Origin` to their responses. No credentials mode: admin calls carry a
 * per-request owner proof, never a cookie. Other origins get no CORS headers, so browsers keep
 * refusing them. Nothing is installed when `origins` is empty. See ADR 0030.
 */
export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  if (origins.length === 0) return
  const allowed = new Set(origins)
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin
    if (origin === undefined || !allowed.has(origin)) return
    reply.header('access-control-allow-origin', origin).header('vary', 'Origin')
    if (request.method === 'OPTIONS') {
      await reply
        .code(204)
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .send()
    }
  })
}
