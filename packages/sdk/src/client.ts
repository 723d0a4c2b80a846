import { randomBytes } from 'node:crypto'
import { Agent, request as httpsRequest } from 'node:https'
import { type Clock, systemClock, toBase64Url, utf8 } from '@subrosa/core'
import { ADMIN_AUTH_SCHEME, createAdminProof } from '@subrosa/protocol'
import type { JWK } from 'jose'
import { BrokerCallError, SdkError } from './errors.ts'

/** Where the broker is and which CA its certificate must chain to. */
export type BrokerConnection = { readonly url: string; readonly caPem: string }

/** A TLS client certificate and its key (PEM), for brokers that require admin mTLS. */
export type ClientCertificate = { readonly certPem: string; readonly keyPem: string }

/** An owner's signing key, for admin calls. */
export type OwnerCredentials = { readonly privateJwk: JWK; readonly id: string }

/** How a call authenticates. */
export type CallAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'owner' }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'cookie'; readonly cookie: string }

/** A response's JSON body and headers. */
export type CallResult = {
  readonly body: unknown
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

const MAX_RESPONSE = 4 << 20
/** Audit exports (JSON lines) may be larger than any JSON answer. */
const MAX_TEXT_RESPONSE = 256 << 20

/**
 * HTTPS client for the broker with the broker CA pinned: no other CA is trusted, so a
 * certificate from anywhere else fails with `ERR_SDK_CONNECT`.
 */
export class BrokerClient {
  readonly url: string
  readonly #agent: Agent
  readonly #owner: OwnerCredentials | undefined
  readonly #clock: Clock

  constructor(
    connection: BrokerConnection,
    options: {
      owner?: OwnerCredentials
      clock?: Clock
      clientCertificate?: ClientCertificate
    } = {},
  ) {
    let parsed: URL
    try {
      parsed = new URL(connection.url)
    } catch (cause) {
      throw new SdkError(
        'ERR_SDK_CONFIG',
        `Broker URL ${JSON.stringify(connection.url)} is not a URL`,
        { cause },
      )
    }
    if (parsed.protocol !== 'https:')
      throw new SdkError('ERR_SDK_CONFIG', 'The broker URL must be https')
    this.url = parsed.origin
    const cert = options.clientCertificate
    this.#agent = new Agent({
      ca: connection.caPem,
      keepAlive: true,
      maxSockets: 8,
      ...(cert === undefined ? {} : { cert: cert.certPem, key: cert.keyPem }),
    })
    this.#owner = options.owner
    this.#clock = options.clock ?? systemClock
  }

  /** The owner id this client signs admin calls with, if any. */
  get ownerId(): string | undefined {
    return this.#owner?.id
  }

  /**
   * Call the broker. JSON answers are parsed; JSON-lines answers (`application/x-ndjson`) come
   * back as text. Problem responses become {@link BrokerCallError} with the broker's code.
   *
   * @throws SdkError `ERR_SDK_CONNECT`, `ERR_SDK_RESPONSE`, `ERR_SDK_CONFIG`; BrokerCallError.
   */
  async call(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    auth: CallAuth,
    body?: unknown,
  ): Promise<CallResult> {
    const payload = body === undefined ? new Uint8Array() : utf8(JSON.stringify(body))
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (auth.kind === 'bearer') headers.authorization = `Bearer ${auth.token}`
    if (auth.kind === 'cookie') headers.cookie = auth.cookie
    if (auth.kind === 'owner') {
      if (this.#owner === undefined)
        throw new SdkError('ERR_SDK_CONFIG', 'This call needs an owner key (--owner-key)')
      const proof = await createAdminProof(
        { method, path, body: payload },
        this.#owner,
        this.#clock(),
        toBase64Url(new Uint8Array(randomBytes(18))),
      )
      headers.authorization = `${ADMIN_AUTH_SCHEME} ${proof}`
    }
    const { status, text, responseHeaders } = await this.#send(method, path, headers, payload)
    const lines = String(responseHeaders['content-type'] ?? '').startsWith('application/x-ndjson')
    if (status < 400 && lines) return { body: text, headers: responseHeaders }
    let json: unknown
    try {
      json = text === '' ? undefined : JSON.parse(text)
    } catch (cause) {
      throw new SdkError(
        'ERR_SDK_RESPONSE',
        `Broker answered ${status} with a body that is not JSON`,
        { cause },
      )
    }
    if (status >= 400) {
      const p = (json ?? {}) as { code?: unknown; detail?: unknown; details?: unknown }
      const code = typeof p.code === 'string' ? p.code : 'ERR_SDK_RESPONSE'
      const detail = typeof p.detail === 'string' ? p.detail : `HTTP ${status}`
      throw new BrokerCallError(
        code,
        detail,
        status,
        typeof p.details === 'object' && p.details !== null
          ? (p.details as Record<string, unknown>)
          : undefined,
      )
    }
    return { body: json, headers: responseHeaders }
  }

  /** Close idle connections. */
  close(): void {
    this.#agent.destroy()
  }

  #send(method: string, path: string, headers: Record<string, string>, payload: Uint8Array) {
    return new Promise<{ status: number; text: string; responseHeaders: CallResult['headers'] }>(
      (resolve, reject) => {
        const req = httpsRequest(
          new URL(path, this.url),
          {
            method,
            headers: { ...headers, 'content-length': String(payload.length) },
            agent: this.#agent,
          },
          (res) => {
            const chunks: Buffer[] = []
            let size = 0
            const limit = String(res.headers['content-type'] ?? '').startsWith(
              'application/x-ndjson',
            )
              ? MAX_TEXT_RESPONSE
              : MAX_RESPONSE
            res.on('data', (chunk: Buffer) => {
              size += chunk.length
              if (size > limit) {
                req.destroy()
                reject(new SdkError('ERR_SDK_RESPONSE', 'Broker response is too large'))
              } else chunks.push(chunk)
            })
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                text: Buffer.concat(chunks).toString('utf8'),
                responseHeaders: res.headers,
              }),
            )
            res.on('error', (cause) =>
              reject(
                new SdkError('ERR_SDK_CONNECT', 'Connection to the broker failed mid-response', {
                  cause,
                }),
              ),
            )
          },
        )
        req.on('error', (cause: NodeJS.ErrnoException) =>
          reject(
            new SdkError(
              'ERR_SDK_CONNECT',
              `Cannot reach the broker at ${this.url}: ${cause.code ?? cause.message}`,
              { cause },
            ),
          ),
        )
        req.end(payload)
      },
    )
  }
}
