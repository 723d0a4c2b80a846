// The medical-platform API of the healthcare example: a small node:https service that runs under
// the launcher. It attests with its TLS certificate bound in the token, takes a patient record
// from an attested caller (`POST /records`, opened with `openAttestedRequest` only after the
// caller's exchanged token verified), seals it into Redis (mutual TLS, certificate and cache key
// from the broker), trades its own token for one to the diagnostics service, calls that service
// with `attestedFetch` (its workload and measurement pinned), and answers the diagnosis encrypted
// to the caller. Human clerks submit the same JWE through the portal's browser route
// (`POST /v1/clerk/records`, a clerk-key proof instead of a workload token; clerk-auth.ts).
// Its logs carry metadata only: method, path, status, code, duration.
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { type Clock, isSubrosaError, utf8 } from '@subrosa/core'
import { createServiceCertificate } from '@subrosa/inference'
import { attestWorkload, type TeeProvider } from '@subrosa/launcher'
import { ProtocolError } from '@subrosa/protocol'
import {
  attestedFetch,
  type BrokerClient,
  createMemoryReplayCache,
  exchangeToken,
  openAttestedRequest,
  type ReplayCache,
  type ServiceExpectation,
  verifyExchangedToken,
} from '@subrosa/sdk'
import type { JWK } from 'jose'
import {
  CLERK_RECORDS_PATH,
  type ClerkCaller,
  clerkKeyring,
  corsHeaders,
  verifyClerkProof,
} from './clerk-auth.ts'
import { openCache } from './open-cache.ts'
import { type Diagnosis, parseRecord } from './record.ts'

/** One log line of the API: never a record value, a token or a key. */
export type ApiLogEvent = {
  readonly event: 'request'
  readonly method: string
  readonly path: string
  readonly status: number
  readonly code?: string
  readonly durationMs: number
}

/** Options of {@link startApiService}. */
export type ApiServiceOptions = {
  /** The broker, its CA pinned. */
  readonly client: BrokerClient
  readonly tee: TeeProvider
  /** This service's policy workload, `<ns>/<policy>/<workload>` (e.g. `health/clinic/api`). */
  readonly workload: string
  readonly issuer: string
  readonly jwks: ServiceExpectation['jwks']
  /** This service's name: callers' exchanged tokens must name it as audience. */
  readonly audience: string
  /** Workloads that may submit records (`sub` of their exchanged tokens). */
  readonly callers: readonly string[]
  /** Accept callers attested by the sim TEE (default false). */
  readonly allowSimCallers?: boolean
  /** Public P-256 JWKs of the clerks who may submit through the portal (`POST /v1/clerk/records`). */
  readonly clerks?: readonly JWK[]
  /** Portal origins answered with CORS, exactly (e.g. `http://127.0.0.1:8080`); default none. */
  readonly corsOrigins?: readonly string[]
  /** Where Redis listens (TLS only); its server certificate is from the broker CA. */
  readonly redis: { readonly host: string; readonly port: number }
  /** The diagnostics replicas (round-robin), what they must be, and their audience name. */
  readonly diagnostics: {
    readonly urls: readonly string[]
    readonly audience: string
    readonly expectation: Omit<ServiceExpectation, 'issuer' | 'jwks'>
  }
  /** How long a sealed record stays in Redis (default 600 s). */
  readonly ttlSeconds?: number
  /** Shared by the API's replicas (`createRedisReplayCache`); default in memory. */
  readonly replayCache?: ReplayCache
  readonly host?: string
  readonly port?: number
  readonly log?: (event: ApiLogEvent) => void
  /** Verification time of callers' tokens (default: the system clock). */
  readonly clock?: Clock
}

/** A running API service. */
export type ApiService = {
  readonly url: string
  /** base64url SHA-256 of the TLS certificate its token binds. */
  readonly tlsCertSha256: string
  readonly token: () => string
  /** How many records were opened (decrypted) after their caller verified. */
  readonly opened: () => number
  close(): Promise<void>
}

const MAX_BODY = 64 << 10

/**
 * Attest, fetch the cache key and Redis client certificate from the broker, connect to Redis and
 * serve HTTPS.
 *
 * @example const api = await startApiService({ client, tee, workload: 'health/clinic/api', ... })
 * @throws what `attestWorkload` throws (`ERR_POLICY_DENIED`, ...), SdkError
 * `ERR_SDK_CACHE_UNAVAILABLE` when Redis refuses the connection.
 */
export async function startApiService(options: ApiServiceOptions): Promise<ApiService> {
  const host = options.host ?? '127.0.0.1'
  const tls = await createServiceCertificate([host])
  const attested = await attestWorkload({
    client: options.client,
    workload: options.workload,
    tee: options.tee,
    tlsCertificate: tls.der,
  })
  const cache = await openCache(attested, options.redis)
  const replayCache = options.replayCache ?? createMemoryReplayCache()
  const allowed = new Set(options.callers)
  const keyring = await clerkKeyring(options.clerks ?? [])
  const now = () => (options.clock ?? (() => new Date()))()
  const verifyClerk =
    (body: Uint8Array) =>
    (proof: string): Promise<ClerkCaller> =>
      verifyClerkProof(proof, body, {
        keyring,
        audience: options.audience,
        replayCache,
        now: now(),
      })
  const verifyCaller = async (token: string) => {
    const claims = await verifyExchangedToken(token, {
      jwks: options.jwks,
      issuer: options.issuer,
      audience: options.audience,
      replayCache,
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    })
    if (!allowed.has(claims.sub))
      throw new ProtocolError('ERR_TOKEN_CLAIMS', `Workload ${claims.sub} may not submit records`)
    if (claims['subrosa.insecure'] && options.allowSimCallers !== true)
      throw new ProtocolError('ERR_TOKEN_CLAIMS', 'Callers in the sim TEE are not accepted')
    return claims
  }
  let opened = 0
  let next = 0
  const diagnose = async (features: readonly number[]) => {
    const urls = options.diagnostics.urls
    const url = urls[next++ % urls.length] as string
    // A fresh audience-bound token per call: the diagnostics service accepts each one once.
    const { token } = await exchangeToken(
      options.client,
      attested.token,
      options.diagnostics.audience,
    )
    const { body, service } = await attestedFetch(
      `${url}/v1/infer`,
      { ...options.diagnostics.expectation, issuer: options.issuer, jwks: options.jwks },
      {
        payload: { inputs: { features: { dims: [1, features.length], data: [...features] } } },
        callerToken: token,
      },
    )
    const p = (body as { outputs?: { p_malignant?: { data?: unknown[] } } }).outputs?.p_malignant
      ?.data?.[0]
    if (typeof p !== 'number')
      throw new ProtocolError(
        'ERR_PROTOCOL_MALFORMED',
        'The diagnostics service answered no p_malignant',
      )
    const w = service.claims['subrosa.workload']
    return {
      p,
      facts: {
        workload: `${w.namespace}/${w.policy}/${w.workload}`,
        tee: service.tee,
        insecure: service.insecure,
        measurement: service.measurement,
        tlsCertSha256: service.tlsCertSha256,
        url,
      },
    }
  }
  const handle = async (
    authorization: string | undefined,
    body: Uint8Array,
    clerk: boolean,
  ): Promise<string> => {
    const request = await openAttestedRequest<unknown>(
      { authorization, body },
      {
        teePrivateKey: attested.teePrivateKey,
        verifyCaller: clerk ? verifyClerk(body) : verifyCaller,
      },
    )
    opened++
    const record = parseRecord(request.payload)
    const name = `record:${record.recordId}`
    await cache.set(name, utf8(JSON.stringify(record)), { ttlSeconds: options.ttlSeconds ?? 600 })
    const { p, facts } = await diagnose(record.features)
    const answer: Diagnosis = {
      recordId: record.recordId,
      diagnosis: p >= 0.5 ? 'malignant' : 'benign',
      pMalignant: p,
      diagnostics: facts,
      cacheKey: cache.keyOf(name),
    }
    return request.reply(answer)
  }
  const server = createServer(
    { cert: tls.certPem, key: tls.keyPem, minVersion: 'TLSv1.3' },
    (req, res) => {
      const started = performance.now()
      const path = (req.url ?? '/').split('?')[0] ?? '/'
      const cors = corsHeaders(req.headers.origin, options.corsOrigins ?? [])
      const done = (status: number, type: string, text: string, code?: string) => {
        res.writeHead(status, { ...cors, 'content-type': type, 'cache-control': 'no-store' })
        res.end(text)
        options.log?.({
          event: 'request',
          method: req.method ?? '',
          path,
          status,
          ...(code === undefined ? {} : { code }),
          durationMs: Math.round((performance.now() - started) * 100) / 100,
        })
      }
      const fail = (status: number, code: string, detail: string) =>
        done(
          status,
          'application/problem+json',
          JSON.stringify({
            type: `urn:subrosa:error:${code}`,
            title: 'Refused',
            status,
            code,
            detail,
          }),
          code,
        )
      if (req.method === 'GET' && path === '/v1/attestation') {
        done(200, 'application/json', JSON.stringify({ token: attested.token }))
        return
      }
      const clerk = path === CLERK_RECORDS_PATH && keyring.size > 0
      if (req.method === 'OPTIONS' && (clerk || path === '/v1/attestation')) {
        if (Object.keys(cors).length > 0) done(204, 'text/plain', '')
        else fail(403, 'ERR_ATTESTED_REQUEST', 'This origin may not call the API')
        return
      }
      if (req.method !== 'POST' || !(path === '/records' || clerk)) {
        fail(404, 'ERR_ATTESTED_REQUEST', 'No such endpoint')
        return
      }
      const chunks: Buffer[] = []
      let size = 0
      req.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size <= MAX_BODY) chunks.push(chunk)
      })
      req.on('end', () => {
        if (size > MAX_BODY) {
          fail(413, 'ERR_ATTESTED_REQUEST', 'The request is too large')
          return
        }
        handle(req.headers.authorization, new Uint8Array(Buffer.concat(chunks)), clerk).then(
          (jwe) => done(200, 'application/jose', jwe),
          (error: unknown) => {
            const code = isSubrosaError(error) ? error.code : 'ERR_UNKNOWN'
            fail(statusOf(code), code, isSubrosaError(error) ? error.message : 'The API failed')
          },
        )
      })
    },
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `https://${host}:${port}`,
    tlsCertSha256: tls.sha256,
    token: () => attested.token,
    opened: () => opened,
    close: async () => {
      await closeServer(server)
      await cache.close()
    },
  }
}

/** HTTP status of a refusal: the caller's token 401/403, its request 400, a hop downstream 502. */
function statusOf(code: string): number {
  if (code === 'ERR_TOKEN_AUDIENCE') return 403
  if (code === 'ERR_ATTESTED_UNAUTHENTICATED' || code.startsWith('ERR_TOKEN_')) return 401
  if (code === 'ERR_ATTESTED_REQUEST') return 400
  if (code === 'ERR_SDK_CACHE_UNAVAILABLE') return 503
  if (code.startsWith('ERR_ATTESTED_') || code.startsWith('ERR_EXCHANGE_')) return 502
  return 500
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
