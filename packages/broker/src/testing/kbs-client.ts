// Test and bench support: a TEE's side of the KBS flow and an owner's admin calls, over real
// HTTPS on loopback against brokers that pin the given CA.
import { Agent, request } from 'node:https'
import { createSimEvidence } from '@subrosa/attest'
import { systemRandom, toBase64Url, utf8 } from '@subrosa/core'
import {
  ADMIN_AUTH_SCHEME,
  createAdminProof,
  decryptWithKey,
  type OwnerKey,
  type RuntimeData,
  reportDataFor,
} from '@subrosa/protocol'
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose'

/** One HTTP answer: status, the set-cookie header and the body text. */
export type HttpAnswer = { status: number; setCookie: string | undefined; body: string }

/** A keep-alive HTTPS client that trusts only `ca`. */
export type HttpsClient = {
  send(
    method: 'GET' | 'POST',
    url: string,
    options?: { headers?: Record<string, string>; body?: string },
  ): Promise<HttpAnswer>
  close(): void
}

/** A client over loopback HTTPS pinning the broker CA `ca` (PEM). */
export function createHttpsClient(ca: string, maxSockets = 64): HttpsClient {
  const agent = new Agent({ ca, keepAlive: true, maxSockets })
  return {
    send: (method, url, options = {}) =>
      new Promise((resolve, reject) => {
        const headers: Record<string, string> = { ...options.headers }
        if (options.body !== undefined) headers['content-type'] = 'application/json'
        const req = request(url, { method, agent, headers }, (res) => {
          const chunks: Buffer[] = []
          res.on('data', (c: Buffer) => chunks.push(c))
          res.on('end', () => {
            const cookie = res.headers['set-cookie']?.[0]
            resolve({
              status: res.statusCode ?? 0,
              setCookie: cookie?.split(';')[0],
              body: Buffer.concat(chunks).toString('utf8'),
            })
          })
          res.on('error', reject)
        })
        req.on('error', reject)
        req.end(options.body)
      }),
    close: () => agent.destroy(),
  }
}

/** A signed admin call (`Authorization: Subrosa-Owner <proof>`) as `owner`. */
export async function adminCall(
  client: HttpsClient,
  base: string,
  owner: OwnerKey,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<HttpAnswer> {
  const payload = body === undefined ? '' : JSON.stringify(body)
  const proof = await createAdminProof(
    { method, path, body: utf8(payload) },
    owner,
    new Date(),
    toBase64Url(systemRandom(18)),
  )
  return client.send(method, base + path, {
    headers: { authorization: `${ADMIN_AUTH_SCHEME} ${proof}` },
    ...(body === undefined ? {} : { body: payload }),
  })
}

/** A TEE key pair for KBS flows (the broker encrypts released resources to its public half). */
export type TeeKeyPair = { readonly privateKey: CryptoKey; readonly publicJwk: JWK }

/** A fresh P-256 ECDH-ES+A256KW TEE key pair. */
export async function generateTeeKey(): Promise<TeeKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('ECDH-ES+A256KW')
  return { privateKey: privateKey as CryptoKey, publicJwk: await exportJWK(publicKey) }
}

/** What a KBS flow needs besides the brokers. */
export type KbsFlowOptions = {
  /** `<ns>/<policy>/<workload>` */
  readonly workload: string
  /** SHA-384 hex of the sim workload. */
  readonly measurement: string
  /** Private JWK of a sim platform key the brokers trust. */
  readonly platformKey: JWK
  /** `<ns>/<policy>/<secret>` to fetch with the token. */
  readonly resource: string
  /** Reuse a TEE key (default: a fresh one per flow). */
  readonly teeKey?: TeeKeyPair
  /** Decrypt the released JWE (default true). */
  readonly decrypt?: boolean
}

/** Thrown by {@link kbsFlow} with the failing step and status; carries no secret. */
export class KbsFlowError extends Error {
  readonly step: string
  readonly status: number
  constructor(step: string, status: number, body: string) {
    super(`KBS ${step} answered ${status}: ${body.slice(0, 200)}`)
    this.step = step
    this.status = status
  }
}

/**
 * A full KBS flow with sim evidence: `auth` at `bases[0]`, `attest` at `bases[1]`, `resource`
 * (bearer token) at `bases[2]`. Returns the token and the released secret (empty when not
 * decrypted).
 *
 * @throws KbsFlowError naming the step that failed.
 */
export async function kbsFlow(
  client: HttpsClient,
  bases: readonly [string, string, string],
  options: KbsFlowOptions,
): Promise<{ token: string; secret: Uint8Array }> {
  const tee = options.teeKey ?? (await generateTeeKey())
  const auth = await client.send('POST', `${bases[0]}/kbs/v0/auth`, {
    body: JSON.stringify({
      version: '0.1.1',
      tee: 'sim',
      'extra-params': { workload: options.workload },
    }),
  })
  if (auth.status !== 200 || auth.setCookie === undefined)
    throw new KbsFlowError('auth', auth.status, auth.body)
  const { nonce } = JSON.parse(auth.body) as { nonce: string }
  const { x, y } = tee.publicJwk
  const runtimeData: RuntimeData = {
    nonce,
    'tee-pubkey': { kty: 'EC', crv: 'P-256', x: String(x), y: String(y), alg: 'ECDH-ES+A256KW' },
  }
  const evidence = await createSimEvidence(
    {
      measurement: Buffer.from(options.measurement, 'hex'),
      reportData: reportDataFor(runtimeData),
      debug: false,
      svn: 1,
    },
    options.platformKey,
    new Date(),
  )
  const attest = await client.send('POST', `${bases[1]}/kbs/v0/attest`, {
    headers: { cookie: auth.setCookie },
    body: JSON.stringify({
      'runtime-data': runtimeData,
      'tee-evidence': { primary_evidence: evidence },
    }),
  })
  if (attest.status !== 200) throw new KbsFlowError('attest', attest.status, attest.body)
  const { token } = JSON.parse(attest.body) as { token: string }
  const resource = await client.send('GET', `${bases[2]}/kbs/v0/resource/${options.resource}`, {
    headers: { authorization: `Bearer ${token}` },
  })
  if (resource.status !== 200) throw new KbsFlowError('resource', resource.status, resource.body)
  const secret =
    options.decrypt === false
      ? new Uint8Array(0)
      : await decryptWithKey(JSON.parse(resource.body), tee.privateKey)
  return { token, secret }
}
