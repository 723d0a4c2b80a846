import { fromBase64, isSubrosaError } from '@subrosa/core'
import {
  applyPolicyRequestSchema,
  createKeyRequestSchema,
  importSecretRequestSchema,
  KBS_SESSION_COOKIE,
  type Problem,
  parseWire,
  problemType,
  revokeOwnerRequestSchema,
  SELF_ATTESTATION_PATH,
} from '@subrosa/protocol'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { listAudit } from './audit.ts'
import { exportAudit, verifyAuditLog } from './audit-checkpoints.ts'
import type { BrokerContext } from './context.ts'
import { installCors } from './cors.ts'
import { dryRun } from './dry-run.ts'
import { BROKER_ERRORS, BrokerError, statusOf } from './errors.ts'
import { cancelJob, endJob } from './jobs.ts'
import { attest, authenticateWorkload, startSession } from './kbs.ts'
import { type KmsCaller, kmsUnwrap, kmsWrap } from './kms.ts'
import { createMasterKey } from './master-keys.ts'
import { authorizeNamespace, ownedNamespaces } from './namespaces.ts'
import {
  clientErrorCode,
  installOperations,
  type Operations,
  type OperationsOptions,
  operationsServerOptions,
  unmatchedError,
} from './operations.ts'
import { authenticateOwner, revokeOwner } from './owners.ts'
import { applyPolicy, policyHistory, policyVersion, requirePolicy } from './policies.ts'
import { releaseInjection, releaseResource } from './releases.ts'
import { describeSecrets, importSecret } from './secrets.ts'
import { attestSelf } from './self-attestation.ts'
import { publicJwks } from './state.ts'
import { exchangeToken } from './token-exchange.ts'

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: Buffer
  }
}

const BODY_LIMIT = 1 << 20

/** TLS settings; `ca` with `requestCert` asks clients for certificates (admin mTLS). */
export type BrokerHttps = {
  key: string
  cert: string
  ca?: string
  requestCert?: boolean
  rejectUnauthorized?: boolean
}

/**
 * Build the broker's HTTP application. Without `https` it serves plain HTTP, which only tests use
 * through `app.inject` (no port). Its operational state (metrics, drain flags) is `operationsOf`.
 */
export function buildBrokerApp(
  ctx: BrokerContext,
  https?: BrokerHttps,
  operations?: OperationsOptions,
): FastifyInstance {
  const base = { logger: false, bodyLimit: BODY_LIMIT, ...operationsServerOptions() }
  const app = (https === undefined ? Fastify(base) : Fastify({ ...base, https })) as FastifyInstance
  const ops = installOperations(app, ctx, operations)
  OPERATIONS.set(app, ops)
  installCors(app, operations?.corsOrigins ?? [])

  // Bodies are JSON or nothing: other media types are refused with 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    request.rawBody = body as Buffer
    if ((body as Buffer).length === 0) return done(null, undefined)
    try {
      done(null, JSON.parse((body as Buffer).toString('utf8')))
    } catch {
      done(new BrokerBodyError(), undefined)
    }
  })

  app.setErrorHandler(async (error, _request, reply) => sendProblem(ctx, reply, error))
  app.setNotFoundHandler(async (request, reply) =>
    sendProblem(ctx, reply, unmatchedError(ops, request, reply)),
  )

  app.get('/.well-known/jwks.json', async () => publicJwks(ctx.keys.signingKey))
  app.get('/.well-known/subrosa-broker', async () => ({
    issuer: ctx.issuer,
    build: ctx.build,
    allowSim: ctx.allowSim,
    kbs: '0.1.1',
  }))

  app.get<{ Querystring: { nonce?: string } }>(SELF_ATTESTATION_PATH, async (request) =>
    attestSelf(ctx, request.query.nonce),
  )

  // Workload API (Trustee KBS protocol).
  app.post('/kbs/v0/auth', async (request, reply) => {
    const { sessionId, nonce } = await startSession(ctx, request.body)
    reply.header(
      'set-cookie',
      `${KBS_SESSION_COOKIE}=${sessionId}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=${ctx.nonceTtlSeconds + ctx.tokenTtlSeconds}`,
    )
    return { nonce, 'extra-params': {} }
  })
  app.post('/kbs/v0/attest', async (request) => attest(ctx, sessionOf(request), request.body))
  app.get<{ Params: { ns: string; policy: string; name: string } }>(
    '/kbs/v0/resource/:ns/:policy/:name',
    async (request) => {
      const { ns, policy, name } = request.params
      // The secret's row is read with the token's checks, in one round trip.
      const identity = await authenticateWorkload(ctx, bearerOf(request), sessionOf(request), {
        namespace: ns,
        policy,
        name,
      })
      return releaseResource(ctx, identity, ns, policy, name)
    },
  )
  app.get('/kbs/v0/workload', async (request) =>
    releaseInjection(ctx, await authenticateWorkload(ctx, bearerOf(request), sessionOf(request))),
  )

  // RFC 8693 token exchange: OAuth clients send forms, so this route alone also parses them.
  app.register((scope, _options, done) => {
    scope.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string' },
      (_request, body, done) => done(null, formFields(body as string)),
    )
    scope.post('/v1/token/exchange', async (request, reply) => {
      const answer = await exchangeToken(ctx, request.body)
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache')
      return answer
    })
    done()
  })
  app.post('/kbs/v0/job/end', async (request) =>
    endJob(ctx, await authenticateWorkload(ctx, bearerOf(request), sessionOf(request))),
  )

  // KMS API: the parquet-java KmsClient contract, for workloads (token) and owners (signed).
  const kmsCaller = async (request: FastifyRequest): Promise<KmsCaller> => {
    const bearer = bearerOf(request)
    if (bearer !== undefined)
      return { kind: 'workload', identity: await authenticateWorkload(ctx, bearer, undefined) }
    return { kind: 'owner', ownerId: await owner(request) }
  }
  app.post('/kms/v0/wrap', async (request) => kmsWrap(ctx, await kmsCaller(request), request.body))
  app.post('/kms/v0/unwrap', async (request) =>
    kmsUnwrap(ctx, await kmsCaller(request), request.body),
  )

  // Admin API: every call signed by a registered owner key.
  const owner = async (request: FastifyRequest) => {
    const id = await authenticateOwner(ctx, request.headers.authorization, {
      method: request.method,
      path: request.url,
      body: new Uint8Array(request.rawBody ?? Buffer.alloc(0)),
    })
    ops.limitOwner(id)
    return id
  }
  app.get('/admin/v0/whoami', async (request) => {
    const id = await owner(request)
    return { owner: id, namespaces: await ownedNamespaces(ctx, id) }
  })
  app.post('/admin/v0/policies', async (request, reply) => {
    const id = await owner(request)
    const body = parseWire(applyPolicyRequestSchema, request.body, 'apply policy request')
    const result = await applyPolicy(ctx, id, body.yaml, body.approvals ?? [])
    reply.code(result.created ? 201 : 200)
    return result
  })
  app.get<{ Params: { ns: string; name: string } }>(
    '/admin/v0/policies/:ns/:name',
    async (request) => {
      const id = await owner(request)
      await authorizeNamespace(ctx, id, request.params.ns, { claim: false })
      const stored = await requirePolicy(ctx, request.params.ns, request.params.name)
      return { version: stored.version, hash: stored.hash, policy: stored.policy }
    },
  )
  app.get<{ Params: { ns: string; name: string } }>(
    '/admin/v0/policies/:ns/:name/history',
    async (request) => {
      const id = await owner(request)
      await authorizeNamespace(ctx, id, request.params.ns, { claim: false })
      const { ns, name } = request.params
      return { namespace: ns, name, versions: await policyHistory(ctx, ns, name) }
    },
  )
  app.get<{ Params: { ns: string; name: string; version: string } }>(
    '/admin/v0/policies/:ns/:name/versions/:version',
    async (request) => {
      const id = await owner(request)
      await authorizeNamespace(ctx, id, request.params.ns, { claim: false })
      const version = Number(request.params.version)
      if (!Number.isSafeInteger(version) || version < 1)
        throw new BrokerError('ERR_BROKER_NOT_FOUND', 'Policy versions are positive integers')
      return policyVersion(ctx, request.params.ns, request.params.name, version)
    },
  )
  app.post('/admin/v0/owners/revoke', async (request) => {
    const id = await owner(request)
    const { owner: target } = parseWire(
      revokeOwnerRequestSchema,
      request.body,
      'revoke owner request',
    )
    return revokeOwner(ctx, id, target)
  })
  app.post<{ Params: { ns: string; policy: string; workload: string; job: string } }>(
    '/admin/v0/jobs/:ns/:policy/:workload/:job/revoke',
    async (request) => cancelJob(ctx, await owner(request), request.params),
  )
  app.post('/admin/v0/dry-run', async (request) => dryRun(ctx, await owner(request), request.body))
  app.post('/admin/v0/keys', async (request, reply) => {
    const id = await owner(request)
    const { namespace, name } = parseWire(
      createKeyRequestSchema,
      request.body,
      'create key request',
    )
    await authorizeNamespace(ctx, id, namespace, { claim: true })
    const result = await createMasterKey(ctx, id, namespace, name)
    reply.code(result.created ? 201 : 200)
    return { ...result, namespace, name }
  })
  app.get<{ Params: { ns: string; policy: string } }>(
    '/admin/v0/secrets/:ns/:policy',
    async (request) => {
      const id = await owner(request)
      await authorizeNamespace(ctx, id, request.params.ns, { claim: false })
      const stored = await requirePolicy(ctx, request.params.ns, request.params.policy)
      return { secrets: await describeSecrets(ctx, stored.policy) }
    },
  )
  app.put<{ Params: { ns: string; policy: string; name: string } }>(
    '/admin/v0/secrets/:ns/:policy/:name',
    async (request) => {
      const id = await owner(request)
      const { ns, policy, name } = request.params
      const { value } = parseWire(importSecretRequestSchema, request.body, 'import secret request')
      await authorizeNamespace(ctx, id, ns, { claim: false })
      const stored = await requirePolicy(ctx, ns, policy)
      if (!stored.policy.owners.keys.includes(id))
        throw new BrokerError(
          'ERR_BROKER_FORBIDDEN',
          `The signer is not an owner of ${ns}/${policy}`,
        )
      const bytes = fromBase64(value)
      if (bytes === undefined)
        throw new BrokerError('ERR_BROKER_SECRET_VALUE', 'The secret value is not base64')
      try {
        const { replaced } = await importSecret(ctx, id, stored.policy, name, bytes)
        return { namespace: ns, policy, name, bytes: bytes.length, replaced }
      } finally {
        bytes.fill(0)
      }
    },
  )
  app.get<{ Querystring: { after?: string; limit?: string } }>(
    '/admin/v0/audit',
    async (request) => {
      const id = await owner(request)
      const entries = await listAudit(ctx.db, {
        after: Number(request.query.after ?? 0) || 0,
        limit: Number(request.query.limit ?? 1000) || 1000,
        namespaces: await ownedNamespaces(ctx, id),
      })
      const chain = await verifyAuditLog(ctx)
      return { entries, verified: chain.ok, head: chain.ok ? chain.head : '' }
    },
  )
  app.get('/admin/v0/audit/export', async (request, reply) => {
    const id = await owner(request)
    const text = await exportAudit(ctx, await ownedNamespaces(ctx, id))
    reply.header('content-type', 'application/x-ndjson')
    return text
  })
  return app
}

const OPERATIONS = new WeakMap<FastifyInstance, Operations>()

/** The operational state (metrics, drain flags) of an app built by {@link buildBrokerApp}. */
export function operationsOf(app: FastifyInstance): Operations {
  const ops = OPERATIONS.get(app)
  if (ops === undefined) throw new BrokerError('ERR_BROKER_INTERNAL', 'Not a broker app')
  return ops
}

class BrokerBodyError extends Error {}

function bearerOf(request: FastifyRequest): string | undefined {
  const h = request.headers.authorization
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : undefined
}

/** Form fields; a repeated field is kept as a list, which the request schema then refuses. */
function formFields(body: string): Record<string, string | string[]> {
  const fields = new Map<string, string[]>()
  for (const [k, v] of new URLSearchParams(body)) fields.set(k, [...(fields.get(k) ?? []), v])
  return Object.fromEntries([...fields].map(([k, v]) => [k, v.length === 1 ? (v[0] as string) : v]))
}

function sessionOf(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=')
    if (k === KBS_SESSION_COOKIE && v !== undefined && v !== '') return v
  }
  return undefined
}

function sendProblem(ctx: BrokerContext, reply: FastifyReply, error: unknown): FastifyReply {
  let problem: Problem
  if (isSubrosaError(error)) {
    const status = statusOf(error.code)
    problem = {
      type: problemType(error.code),
      title: error.code,
      status,
      detail: error.message,
      code: error.code,
    }
    if (error.details !== undefined) problem.details = { ...error.details }
    const retry = error.details?.retryAfterSeconds
    if (typeof retry === 'number') reply.header('retry-after', String(retry))
  } else if (error instanceof BrokerBodyError || isFastifyClientError(error)) {
    const status = isFastifyClientError(error) ? error.statusCode : 400
    const code = clientErrorCode(status)
    problem = {
      type: problemType(code),
      title: code,
      status,
      detail:
        code === 'ERR_PROTOCOL_MALFORMED'
          ? 'The request body or headers are malformed'
          : BROKER_ERRORS[code as keyof typeof BROKER_ERRORS],
      code,
    }
  } else {
    ctx.log({
      event: 'internal-error',
      name: error instanceof Error ? error.name : typeof error,
      message: error instanceof Error ? error.message.slice(0, 300) : '',
    })
    problem = {
      type: problemType('ERR_BROKER_INTERNAL'),
      title: 'ERR_BROKER_INTERNAL',
      status: 500,
      detail: BROKER_ERRORS.ERR_BROKER_INTERNAL,
      code: 'ERR_BROKER_INTERNAL',
    }
  }
  return reply.code(problem.status).header('content-type', 'application/problem+json').send(problem)
}

function isFastifyClientError(error: unknown): error is { statusCode: number } {
  const status = (error as { statusCode?: unknown } | null)?.statusCode
  return typeof status === 'number' && status >= 400 && status < 500
}
