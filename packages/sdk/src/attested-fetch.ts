import { once } from 'node:events'
import { Agent, type ClientRequestArgs, request as httpRequest } from 'node:http'
import { isIP } from 'node:net'
import type { Duplex } from 'node:stream'
import { connect, type TLSSocket } from 'node:tls'
import { type Clock, equalBytes, isSubrosaError, systemClock, utf8 } from '@subrosa/core'
import {
  CompactEncrypt,
  compactDecrypt,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose'
import {
  type ServiceExpectation,
  type VerifiedService,
  verifyServiceToken,
} from './attested-service.ts'
import { SdkError } from './errors.ts'

/** Where an attested service publishes its broker-issued token (`{ "token": "..." }`). */
export const ATTESTATION_PATH = '/v1/attestation'
/** JOSE algorithms of attested requests and replies (JWE compact). */
export const ATTESTED_JWE = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM' } as const
/** Media type of attested request and reply bodies. */
export const ATTESTED_MEDIA_TYPE = 'application/jose'

const MAX_ATTESTATION = 64 << 10

/** Options of {@link attestedFetch}. */
export type AttestedFetchOptions = {
  /** The request: a JSON object (without a `replyKey` member, which is added). */
  readonly payload: Readonly<Record<string, unknown>>
  /** The caller's own token (e.g. from `exchangeToken`), sent as `Authorization: Bearer`. */
  readonly callerToken: string
  /** Verification time of the service token (default: the system clock). */
  readonly clock?: Clock
  /** Give up after this long without progress (default 30 s). */
  readonly timeoutMs?: number
  /** Largest answer accepted (default 16 MiB). */
  readonly maxResponseBytes?: number
}

/** The decrypted answer of an attested service, and what its attestation established. */
export type AttestedResponse = { readonly body: unknown; readonly service: VerifiedService }

/**
 * Call an attested service over ONE TLS 1.3 connection: `GET /v1/attestation` for its token,
 * verify it (see {@link verifyServiceToken}) including that the token binds the certificate this
 * very connection presented, then POST the payload as a JWE (ECDH-ES+A256KW, A256GCM) to the
 * attested key with a fresh ephemeral reply key and the caller's token, and decrypt the answer.
 * No byte of the payload is sent unless every check passed.
 *
 * @example
 * const { body } = await attestedFetch('https://diagnostics:8443/v1/infer', {
 *   issuer, jwks, namespace: 'acme', policy: 'health', workload: 'diagnostics',
 *   measurement: '9f…', allowSim: false,
 * }, { payload: { features }, callerToken })
 * @throws SdkError `ERR_ATTESTED_*` naming the failed check (see docs/errors.md),
 * `ERR_ATTESTED_REFUSED` with `details.code` when the service refuses the caller, `ERR_SDK_CONFIG`.
 */
export async function attestedFetch(
  url: string,
  expectation: ServiceExpectation,
  options: AttestedFetchOptions,
): Promise<AttestedResponse> {
  const target = parseTarget(url)
  const payload = options.payload
  if (
    typeof payload !== 'object' ||
    payload === null ||
    Array.isArray(payload) ||
    'replyKey' in payload
  )
    throw new SdkError('ERR_SDK_CONFIG', 'The payload must be a JSON object without replyKey')
  if (!/^[A-Za-z0-9._~+/-]+=*$/.test(options.callerToken))
    throw new SdkError('ERR_SDK_CONFIG', 'The caller token must be a compact JWT')
  const timeoutMs = options.timeoutMs ?? 30_000
  const socket = await openTls(target, expectation.ca, timeoutMs)
  const agent = new OneSocketAgent(socket)
  try {
    const peerCertificate = new Uint8Array(socket.getPeerCertificate().raw ?? [])
    if (peerCertificate.length === 0)
      throw new SdkError('ERR_ATTESTED_CONNECT', 'The service presented no TLS certificate')
    const common = { target, timeoutMs }
    const attestation = await send(agent, socket, peerCertificate, {
      ...common,
      method: 'GET',
      path: ATTESTATION_PATH,
      headers: { accept: 'application/json' },
      body: undefined,
      limit: MAX_ATTESTATION,
    })
    if (attestation.status !== 200)
      throw new SdkError(
        'ERR_ATTESTED_RESPONSE',
        `The service answered ${attestation.status} for its token`,
      )
    const service = await verifyServiceToken(tokenOf(attestation.body), expectation, {
      peerCertificate,
      now: (options.clock ?? systemClock)(),
    })
    const reply = await generateKeyPair(ATTESTED_JWE.alg, { extractable: false })
    const { kty, crv, x, y } = await exportJWK(reply.publicKey)
    const recipient = await importJWK(
      { kty: service.key.kty, crv: service.key.crv, x: service.key.x, y: service.key.y } as JWK,
      ATTESTED_JWE.alg,
    )
    const jwe = await new CompactEncrypt(
      utf8(JSON.stringify({ ...payload, replyKey: { kty, crv, x, y } })),
    )
      .setProtectedHeader({ ...ATTESTED_JWE })
      .encrypt(recipient)
    const answer = await send(agent, socket, peerCertificate, {
      ...common,
      method: 'POST',
      path: target.path,
      headers: {
        accept: ATTESTED_MEDIA_TYPE,
        authorization: `Bearer ${options.callerToken}`,
        'content-type': ATTESTED_MEDIA_TYPE,
      },
      body: utf8(jwe),
      limit: options.maxResponseBytes ?? 16 << 20,
    })
    if (answer.status >= 400) throw refusal(answer.status, answer.body)
    let plaintext: Uint8Array
    try {
      ;({ plaintext } = await compactDecrypt(answer.body.toString('ascii'), reply.privateKey, {
        keyManagementAlgorithms: [ATTESTED_JWE.alg],
        contentEncryptionAlgorithms: [ATTESTED_JWE.enc],
      }))
    } catch (cause) {
      throw new SdkError('ERR_ATTESTED_RESPONSE', 'The answer is not encrypted to the reply key', {
        cause,
      })
    }
    try {
      return { body: JSON.parse(new TextDecoder().decode(plaintext)), service }
    } catch (cause) {
      throw new SdkError('ERR_ATTESTED_RESPONSE', 'The decrypted answer is not JSON', { cause })
    } finally {
      plaintext.fill(0)
    }
  } finally {
    agent.destroy()
    socket.destroy()
  }
}

type Target = {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly origin: string
  readonly authority: string
}

function parseTarget(url: string): Target {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONFIG', 'The service URL is not a URL', { cause })
  }
  if (parsed.protocol !== 'https:')
    throw new SdkError('ERR_SDK_CONFIG', 'The service URL must be https')
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(parsed.port || 443),
    path: `${parsed.pathname}${parsed.search}`,
    origin: parsed.origin,
    authority: parsed.host,
  }
}

async function openTls(
  target: Target,
  ca: string | undefined,
  timeoutMs: number,
): Promise<TLSSocket> {
  const socket = connect({
    host: target.host,
    port: target.port,
    ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
    ...(ca === undefined ? { rejectUnauthorized: false } : { ca, rejectUnauthorized: true }),
    // TLS 1.3 has no renegotiation: the certificate checked is the one for the whole connection.
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['http/1.1'],
  })
  socket.setTimeout(timeoutMs, () =>
    socket.destroy(new SdkError('ERR_ATTESTED_CONNECT', 'The attested service timed out')),
  )
  try {
    await once(socket, 'secureConnect')
  } catch (cause) {
    socket.destroy()
    const code = (cause as NodeJS.ErrnoException).code ?? 'TLS handshake failed'
    throw new SdkError('ERR_ATTESTED_CONNECT', `Cannot open TLS to ${target.origin}: ${code}`, {
      cause,
    })
  }
  return socket
}

/** An HTTP agent that only ever has the one TLS socket it was given: no reconnection. */
class OneSocketAgent extends Agent {
  #socket: TLSSocket | undefined
  constructor(socket: TLSSocket) {
    super({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 })
    this.#socket = socket
  }
  override createConnection(
    _options: ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const socket = this.#socket
    this.#socket = undefined
    if (socket !== undefined && !socket.destroyed) return socket
    const error = new SdkError('ERR_ATTESTED_CONNECT', 'The service closed the attested connection')
    if (callback === undefined) throw error
    callback(error, undefined as never)
    return undefined
  }
}

type Exchange = {
  readonly target: Target
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: Uint8Array | undefined
  readonly limit: number
  readonly timeoutMs: number
}

/** One HTTP exchange on the pinned socket; the body is written only once that socket is assigned. */
function send(
  agent: OneSocketAgent,
  pinned: TLSSocket,
  peerCertificate: Uint8Array,
  x: Exchange,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const body = x.body ?? new Uint8Array()
    const req = httpRequest({
      host: x.target.host,
      port: x.target.port,
      method: x.method,
      path: x.path,
      agent,
      timeout: x.timeoutMs,
      headers: { ...x.headers, host: x.target.authority, 'content-length': String(body.length) },
    })
    req.on('timeout', () =>
      req.destroy(new SdkError('ERR_ATTESTED_CONNECT', 'The attested service timed out')),
    )
    req.on('socket', (socket) => {
      const same =
        socket === pinned &&
        !pinned.destroyed &&
        equalBytes(new Uint8Array(pinned.getPeerCertificate().raw ?? []), peerCertificate)
      if (!same) {
        req.destroy(
          new SdkError('ERR_ATTESTED_CONNECT', 'The request would leave the attested connection'),
        )
        return
      }
      req.end(body)
    })
    req.on('response', (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > x.limit) {
          req.destroy(new SdkError('ERR_ATTESTED_RESPONSE', 'The service answer is too large'))
        } else chunks.push(chunk)
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
    })
    req.on('error', (cause: NodeJS.ErrnoException) =>
      reject(
        isSubrosaError(cause)
          ? cause
          : new SdkError(
              'ERR_ATTESTED_CONNECT',
              `The attested connection failed: ${cause.code ?? cause.message}`,
              { cause },
            ),
      ),
    )
  })
}

function tokenOf(body: Buffer): unknown {
  try {
    return (JSON.parse(body.toString('utf8')) as { token?: unknown } | null)?.token
  } catch (cause) {
    throw new SdkError('ERR_ATTESTED_RESPONSE', 'The attestation answer is not JSON', { cause })
  }
}

function refusal(status: number, body: Buffer): SdkError {
  let code = `HTTP ${status}`
  try {
    const problem = JSON.parse(body.toString('utf8')) as { code?: unknown }
    if (typeof problem.code === 'string' && /^ERR_[A-Z0-9_]{1,64}$/.test(problem.code))
      code = problem.code
  } catch {
    // Not a problem document: the status says enough.
  }
  return new SdkError(
    'ERR_ATTESTED_REFUSED',
    `The attested service refused the request (${code})`,
    {
      details: { status, code },
    },
  )
}
