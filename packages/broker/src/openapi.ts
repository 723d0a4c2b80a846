import {
  applyPolicyRequestSchema,
  attestRequestSchema,
  authRequestSchema,
  createKeyRequestSchema,
  dryRunRequestSchema,
  flattenedJweSchema,
  revokeOwnerRequestSchema,
  tokenExchangeRequestSchema,
  unwrapRequestSchema,
  wrapRequestSchema,
} from '@subrosa/protocol'

/** Who may call an operation. */
type Auth = 'none' | 'owner' | 'workload' | 'session' | 'workload-or-owner'

type JsonSchemaSource = { toJSONSchema(params?: Record<string, unknown>): unknown }

/** One operation the broker serves; `path` is the Fastify route (`:param`). */
export type RouteSpec = {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE'
  readonly path: string
  readonly tag: 'health' | 'well-known' | 'kbs' | 'kms' | 'admin' | 'token'
  readonly summary: string
  readonly auth: Auth
  readonly body?: JsonSchemaSource
  /** The body may also be `application/x-www-form-urlencoded` (OAuth clients). */
  readonly formBody?: boolean
  /** Success status and what it returns. */
  readonly ok: { readonly status: number; readonly description: string; readonly type?: string }
}

const JSON_TYPE = 'application/json'
const FORM_TYPE = 'application/x-www-form-urlencoded'

/**
 * Every route of the broker, the one table the OpenAPI document is generated from. A test checks
 * that it equals the set of routes Fastify registered, so a new route lands here with its summary.
 */
export const ROUTES: readonly RouteSpec[] = [
  r('GET', '/healthz', 'health', 'The process is alive.', 'none'),
  r(
    'GET',
    '/readyz',
    'health',
    'Ready: store reachable, unsealed, not draining (else 503).',
    'none',
  ),
  r('GET', '/metrics', 'health', 'Prometheus metrics (text format 0.0.4).', 'none', {
    type: 'text/plain',
  }),
  r('GET', '/openapi.json', 'health', 'This OpenAPI 3.1 document.', 'none'),
  r('GET', '/.well-known/jwks.json', 'well-known', 'Public keys that sign tokens.', 'none'),
  r('GET', '/.well-known/subrosa-broker', 'well-known', 'Issuer, build and options.', 'none'),
  r('POST', '/kbs/v0/auth', 'kbs', 'Open a KBS session; sets the session cookie.', 'none', {
    body: authRequestSchema,
  }),
  r('POST', '/kbs/v0/attest', 'kbs', 'Appraise evidence; returns an EAR token.', 'session', {
    body: attestRequestSchema,
  }),
  r(
    'GET',
    '/kbs/v0/resource/:ns/:policy/:name',
    'kbs',
    'A secret as a JWE to the attested TEE key.',
    'workload',
    { type: 'application/jose+json' },
  ),
  r('GET', '/kbs/v0/workload', 'kbs', "The workload's injection as a JWE.", 'workload'),
  r('POST', '/kbs/v0/job/end', 'kbs', "End the token's job: its tokens are revoked.", 'workload'),
  r('POST', '/kms/v0/wrap', 'kms', 'Wrap a key under a master key.', 'workload-or-owner', {
    body: wrapRequestSchema,
  }),
  r('POST', '/kms/v0/unwrap', 'kms', 'Unwrap a key (JWE to the caller).', 'workload-or-owner', {
    body: unwrapRequestSchema,
  }),
  r(
    'POST',
    '/v1/token/exchange',
    'token',
    'RFC 8693 token exchange: an EAR token for a short-lived token to one service in `calls` (JSON or form).',
    'none',
    { body: tokenExchangeRequestSchema, formBody: true },
  ),
  r('GET', '/admin/v0/whoami', 'admin', 'The calling owner and its namespaces.', 'owner'),
  r('POST', '/admin/v0/policies', 'admin', 'Apply a policy version (201 when new).', 'owner', {
    body: applyPolicyRequestSchema,
  }),
  r('GET', '/admin/v0/policies/:ns/:name', 'admin', 'The current version of a policy.', 'owner'),
  r(
    'POST',
    '/admin/v0/jobs/:ns/:policy/:workload/:job/revoke',
    'admin',
    "Cancel a job: revoke its workload's tokens for it.",
    'owner',
  ),
  r('POST', '/admin/v0/dry-run', 'admin', 'Appraise evidence against a policy.', 'owner', {
    body: dryRunRequestSchema,
  }),
  r('POST', '/admin/v0/keys', 'admin', 'Create a master key (201 when new).', 'owner', {
    body: createKeyRequestSchema,
  }),
  r(
    'GET',
    '/admin/v0/policies/:ns/:name/history',
    'admin',
    'Every version of a policy: hash, predecessor, who applied and approved.',
    'owner',
  ),
  r(
    'GET',
    '/admin/v0/policies/:ns/:name/versions/:version',
    'admin',
    'One version of a policy with its document as applied.',
    'owner',
  ),
  r(
    'POST',
    '/admin/v0/owners/revoke',
    'admin',
    'Revoke the calling owner key, for good.',
    'owner',
    {
      body: revokeOwnerRequestSchema,
    },
  ),
  r(
    'PUT',
    '/admin/v0/secrets/:ns/:policy/:name',
    'admin',
    'Set the value of an `import: true` secret (policy owners).',
    'owner',
  ),
  r(
    'GET',
    '/admin/v0/secrets/:ns/:policy',
    'admin',
    "A policy's secrets: kinds, public facts, whether stored (never values).",
    'owner',
  ),
  r('GET', '/admin/v0/audit', 'admin', 'Audit entries of the owner’s namespaces.', 'owner'),
  r(
    'GET',
    '/admin/v0/audit/export',
    'admin',
    'The audit log up to a checkpoint signed now (JSON lines; other namespaces by hash).',
    'owner',
    { type: 'application/x-ndjson' },
  ),
  r(
    'GET',
    '/v1/attestation/self',
    'well-known',
    "The broker's own evidence, binding its TLS certificate and the caller's nonce.",
    'none',
  ),
]

function r(
  method: RouteSpec['method'],
  path: string,
  tag: RouteSpec['tag'],
  summary: string,
  auth: Auth,
  extra: { body?: JsonSchemaSource; type?: string; formBody?: boolean } = {},
): RouteSpec {
  return {
    method,
    path,
    tag,
    summary,
    auth,
    ...(extra.body === undefined ? {} : { body: extra.body }),
    ...(extra.formBody === true ? { formBody: true } : {}),
    ok: {
      status: 200,
      description: summary,
      ...(extra.type === undefined ? {} : { type: extra.type }),
    },
  }
}

/** `/kbs/v0/resource/:ns/:policy/:name` -> `/kbs/v0/resource/{ns}/{policy}/{name}` */
export function openApiPath(route: string): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

const SECURITY: Record<Auth, Record<string, string[]>[]> = {
  none: [],
  owner: [{ ownerProof: [] }],
  workload: [{ attestationToken: [] }, { kbsSession: [] }],
  session: [{ kbsSession: [] }],
  'workload-or-owner': [{ attestationToken: [] }, { ownerProof: [] }],
}

/** The OpenAPI 3.1 document of the broker, built from {@link ROUTES}. */
export function openApiDocument(build: string, serverUrl?: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const route of ROUTES) {
    const path = openApiPath(route.path)
    const params = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }))
    const okType = route.ok.type ?? JSON_TYPE
    paths[path] ??= {}
    ;(paths[path] as Record<string, unknown>)[route.method.toLowerCase()] = {
      operationId: operationId(route),
      tags: [route.tag],
      summary: route.summary,
      security: SECURITY[route.auth],
      ...(params.length === 0 ? {} : { parameters: params }),
      ...(route.body === undefined
        ? {}
        : {
            requestBody: {
              required: true,
              content: {
                [JSON_TYPE]: { schema: jsonSchema(route.body) },
                ...(route.formBody === true
                  ? { [FORM_TYPE]: { schema: jsonSchema(route.body) } }
                  : {}),
              },
            },
          }),
      responses: {
        [String(route.ok.status)]: {
          description: route.ok.description,
          content: {
            [okType]: {
              schema:
                okType === 'application/jose+json'
                  ? jsonSchema(flattenedJweSchema)
                  : okType === 'text/plain'
                    ? { type: 'string' }
                    : { type: 'object' },
            },
          },
        },
        default: { $ref: '#/components/responses/Problem' },
      },
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Subrosa broker',
      version: build,
      description:
        'Attestation-gated key broker: KBS workload API, KMS, owner-signed admin API. Every error ' +
        'is an RFC 7807 problem with a stable `code` (docs/errors.md).',
    },
    ...(serverUrl === undefined ? {} : { servers: [{ url: serverUrl }] }),
    paths,
    components: {
      securitySchemes: {
        ownerProof: {
          type: 'apiKey',
          in: 'header',
          name: 'authorization',
          description:
            'Owner-signed request proof (`Subrosa-Owner <jws>`) over method, path, body.',
        },
        attestationToken: { type: 'http', scheme: 'bearer', bearerFormat: 'EAR JWT' },
        kbsSession: { type: 'apiKey', in: 'cookie', name: 'kbs-session-id' },
      },
      responses: {
        Problem: {
          description: 'RFC 7807 problem details with a stable code',
          headers: {
            'retry-after': { description: 'Seconds to wait (429)', schema: { type: 'integer' } },
          },
          content: {
            'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } },
          },
        },
      },
      schemas: {
        Problem: {
          type: 'object',
          required: ['type', 'title', 'status', 'detail', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string', pattern: '^ERR_[A-Z0-9_]+$' },
            details: { type: 'object' },
          },
        },
      },
    },
  }
}

function operationId(route: RouteSpec): string {
  const words = route.path
    .replace(/^\//, '')
    .replace(/\.well-known/, 'well-known')
    .split(/[/.\-:]+/)
    .filter((w) => w !== '' && !/^v\d+$/.test(w))
  return [route.method.toLowerCase(), ...words]
    .map((w, i) => (i === 0 ? w : `${w[0]?.toUpperCase() ?? ''}${w.slice(1)}`))
    .join('')
}

function jsonSchema(source: JsonSchemaSource): unknown {
  const schema = source.toJSONSchema({
    target: 'draft-2020-12',
    io: 'input',
    unrepresentable: 'any',
  }) as Record<string, unknown>
  const { $schema: _, ...rest } = schema
  return rest
}
