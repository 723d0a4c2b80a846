// The broker's HTTPS API as the console uses it. Every admin call is signed with the owner key
// (a fresh proof per request, bound to method, path and body); nothing else authenticates, so
// fetch runs without cookies or referrer. Only the configured broker URL is ever contacted.
import { utf8 } from './bytes.ts'
import type { OwnerSession } from './owner-key.ts'
import { ADMIN_AUTH_SCHEME, createAdminProof } from './signing.ts'

/** A broker error (RFC 7807 body) or a transport failure (`ERR_PORTAL_NETWORK`). */
export class BrokerApiError extends Error {
  override readonly name = 'BrokerApiError'
  readonly code: string
  readonly status: number
  readonly details: Readonly<Record<string, unknown>>
  constructor(
    code: string,
    status: number,
    message: string,
    details: Readonly<Record<string, unknown>> = {},
  ) {
    super(message)
    this.code = code
    this.status = status
    this.details = details
  }
}

/** The broker the console talks to, as the signed-in owner. */
export type Broker = { readonly url: string; readonly owner: OwnerSession }

export type PolicyVersionSummary = {
  version: number
  hash: string
  predecessor: string | null
  createdAt: string
  createdBy: string
  approvedBy: string[]
}
export type PolicyVersion = PolicyVersionSummary & { yaml: string }
export type SecretSummary = { name: string; kind: string; stored: boolean; updatedAt?: string }
export type DryRunAnswer = {
  verified: boolean
  tee: string
  tcbStatus?: string
  advisories: string[]
  decision?: { allow: boolean; workload: string; clause: string; reasons: string[] }
  error?: { code: string; message: string }
  policy: { namespace: string; name: string; hash: string; version?: number }
  at: string
}

const enc = encodeURIComponent

async function request(
  url: string,
  init: RequestInit & { headers: Record<string, string> },
): Promise<Response> {
  try {
    return await fetch(url, {
      ...init,
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    })
  } catch {
    throw new BrokerApiError(
      'ERR_PORTAL_NETWORK',
      0,
      `Cannot reach the broker at ${new URL(url).origin}: is it running, and does it allow this origin (broker start --cors-origin)?`,
    )
  }
}

/** JSON and problem+json, but not the audit export's application/x-ndjson. */
const isJson = (type: string) => /^application\/(?:[\w.-]+\+)?json\b/.test(type)

async function answer(res: Response): Promise<unknown> {
  const type = res.headers.get('content-type') ?? ''
  if (!res.ok) {
    let code = 'ERR_PORTAL_HTTP'
    let detail = `The broker answered ${res.status}`
    let details: Record<string, unknown> = {}
    if (isJson(type)) {
      const problem = (await res.json()) as { code?: unknown; detail?: unknown; details?: unknown }
      if (typeof problem.code === 'string') code = problem.code
      if (typeof problem.detail === 'string') detail = problem.detail
      if (typeof problem.details === 'object' && problem.details !== null)
        details = problem.details as Record<string, unknown>
    }
    throw new BrokerApiError(code, res.status, detail, details)
  }
  return isJson(type) ? res.json() : res.text()
}

/** An admin call signed by the owner. */
export async function adminCall(
  broker: Broker,
  method: 'GET' | 'POST' | 'PUT',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const text = body === undefined ? '' : JSON.stringify(body)
  const proof = await createAdminProof({ method, path, body: utf8(text) }, broker.owner, new Date())
  const headers: Record<string, string> = { authorization: `${ADMIN_AUTH_SCHEME} ${proof}` }
  if (body !== undefined) headers['content-type'] = 'application/json'
  return answer(
    await request(`${broker.url}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: text }),
    }),
  )
}

/** A public (unsigned) GET, e.g. the JWKS. */
export async function publicGet(url: string, path: string): Promise<unknown> {
  return answer(await request(`${url}${path}`, { method: 'GET', headers: {} }))
}

export const api = {
  whoami: async (b: Broker) =>
    (await adminCall(b, 'GET', '/admin/v0/whoami')) as { owner: string; namespaces: string[] },
  history: async (b: Broker, ns: string, name: string) =>
    (
      (await adminCall(b, 'GET', `/admin/v0/policies/${enc(ns)}/${enc(name)}/history`)) as {
        versions: PolicyVersionSummary[]
      }
    ).versions,
  version: async (b: Broker, ns: string, name: string, version: number) =>
    (await adminCall(
      b,
      'GET',
      `/admin/v0/policies/${enc(ns)}/${enc(name)}/versions/${version}`,
    )) as PolicyVersion,
  apply: async (b: Broker, yaml: string, approvals: string[]) =>
    (await adminCall(b, 'POST', '/admin/v0/policies', { yaml, approvals })) as {
      version: number
      hash: string
      created: boolean
      approvedBy: string[]
    },
  secrets: async (b: Broker, ns: string, policy: string): Promise<SecretSummary[]> =>
    (
      (await adminCall(b, 'GET', `/admin/v0/secrets/${enc(ns)}/${enc(policy)}`)) as {
        secrets: SecretSummary[]
      }
    ).secrets.map(({ name, kind, stored, updatedAt }) =>
      updatedAt === undefined ? { name, kind, stored } : { name, kind, stored, updatedAt },
    ),
  dryRun: async (b: Broker, request: unknown) =>
    (await adminCall(b, 'POST', '/admin/v0/dry-run', request)) as DryRunAnswer,
  auditExport: async (b: Broker) => (await adminCall(b, 'GET', '/admin/v0/audit/export')) as string,
  jwks: async (b: Broker) =>
    (await publicGet(b.url, '/.well-known/jwks.json')) as { keys: Record<string, unknown>[] },
}
