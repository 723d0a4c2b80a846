// The confidential inference service: `GET /v1/attestation` answers the service's EAR token (whose
// akpub is the request-encryption key); `POST /v1/infer` takes a JWE to that key and answers a JWE
// to the caller's ephemeral key. The handler is transport-free (tested in-process); `serveInference`
// puts it behind node:https with the service's own certificate.
import { createServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { type BaseError, isSubrosaError, utf8 } from '@subrosa/core'
import { problemType } from '@subrosa/protocol'
import { CompactEncrypt, type CryptoKey, compactDecrypt, importJWK } from 'jose'
import type { InferenceSession } from 'onnxruntime-node'
import { INFERENCE_HTTP_STATUS, InferenceError, type InferenceErrorCode } from './errors.ts'
import {
  fromRuntimeOutputs,
  inferRequestSchema,
  type ModelSignature,
  signatureOf,
  toRuntimeInputs,
} from './tensors.ts'

/** The JWE algorithms of requests and answers. */
export const INFER_JWE = { alg: 'ECDH-ES+A256KW', enc: 'A256GCM' } as const

/** Checks a caller's bearer token; throws (any error) to refuse. */
export type VerifyCaller = (token: string) => Promise<unknown>

/** One line of the service's log: metadata only, never inputs, outputs, tokens or keys. */
export type InferenceLogEvent = {
  readonly event: 'request'
  readonly method: string
  readonly path: string
  readonly status: number
  readonly code?: string
  readonly durationMs: number
}

/** Options of {@link createInferenceHandler}. */
export type InferenceServiceOptions = {
  readonly session: InferenceSession
  /** The service's current EAR token (a function, so the caller can re-attest and swap it). */
  readonly token: () => string
  /** The private half of the attested TEE key (the token's akpub). */
  readonly teePrivateKey: CryptoKey
  /** How callers are checked: a verifier, or `'open'` to accept any caller (explicit choice). */
  readonly verifyCaller: VerifyCaller | 'open'
  /** Largest accepted request body in bytes (default 1 MiB). */
  readonly maxBodyBytes?: number
  /** Largest number of input elements per request (default 1 000 000). */
  readonly maxElements?: number
  readonly log?: (event: InferenceLogEvent) => void
}

/** A transport-free request and answer. */
export type HandlerRequest = {
  readonly method: string
  readonly path: string
  readonly authorization?: string | undefined
  readonly body: Uint8Array
  /** Set by a transport that stopped reading a body over the limit. */
  readonly oversize?: boolean
}
export type HandlerResponse = {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

/**
 * Make the request handler of the service.
 *
 * @example const handle = createInferenceHandler({ session, token: () => attested.token, teePrivateKey, verifyCaller: 'open' })
 * @throws InferenceError `ERR_INFER_MODEL` when the model has an input that is not a float32 tensor.
 */
export function createInferenceHandler(
  options: InferenceServiceOptions,
): (request: HandlerRequest) => Promise<HandlerResponse> {
  const signature = signatureOf(options.session)
  const maxBody = options.maxBodyBytes ?? 1 << 20
  const maxElements = options.maxElements ?? 1_000_000
  return async (request) => {
    const started = performance.now()
    let response: HandlerResponse
    let code: string | undefined
    try {
      response = await route(options, signature, maxBody, maxElements, request)
    } catch (error) {
      const e = isSubrosaError(error)
        ? error
        : new InferenceError('ERR_INFER_RUN', 'The model failed to run')
      code = e.code
      response = problem(e)
    }
    options.log?.({
      event: 'request',
      method: request.method,
      path: request.path,
      status: response.status,
      ...(code === undefined ? {} : { code }),
      durationMs: Math.round((performance.now() - started) * 100) / 100,
    })
    return response
  }
}

async function route(
  options: InferenceServiceOptions,
  signature: ModelSignature,
  maxBody: number,
  maxElements: number,
  request: HandlerRequest,
): Promise<HandlerResponse> {
  if (request.method === 'GET' && request.path === '/v1/attestation')
    return json(200, { token: options.token() })
  if (request.method !== 'POST' || request.path !== '/v1/infer')
    throw new InferenceError('ERR_INFER_NOT_FOUND', 'No such endpoint')
  if (request.oversize === true || request.body.length > maxBody)
    throw new InferenceError('ERR_INFER_TOO_LARGE', `The body exceeds ${maxBody} bytes`, {
      details: { limit: maxBody },
    })
  await checkCaller(options.verifyCaller, request.authorization)
  const plaintext = await decryptRequest(request.body, options.teePrivateKey)
  let parsed: ReturnType<typeof inferRequestSchema.safeParse>
  try {
    parsed = inferRequestSchema.safeParse(JSON.parse(new TextDecoder().decode(plaintext)))
  } catch {
    throw new InferenceError('ERR_INFER_BAD_REQUEST', 'The decrypted request is not JSON')
  } finally {
    plaintext.fill(0)
  }
  if (!parsed.success)
    throw new InferenceError(
      'ERR_INFER_BAD_REQUEST',
      `The decrypted request is not {inputs, replyKey}: ${parsed.error.issues[0]?.path.join('.') ?? ''}`,
    )
  let replyKey: CryptoKey
  try {
    replyKey = (await importJWK(
      { kty: 'EC', crv: 'P-256', x: parsed.data.replyKey.x, y: parsed.data.replyKey.y },
      INFER_JWE.alg,
    )) as CryptoKey
  } catch {
    throw new InferenceError('ERR_INFER_BAD_REQUEST', 'replyKey is not an EC P-256 public key')
  }
  const feeds = toRuntimeInputs(signature, parsed.data.inputs, maxElements)
  let outputs: Awaited<ReturnType<InferenceSession['run']>>
  try {
    outputs = await options.session.run(feeds)
  } catch {
    throw new InferenceError('ERR_INFER_RUN', 'The model failed to run on these inputs')
  }
  const answer = await new CompactEncrypt(
    utf8(JSON.stringify({ outputs: fromRuntimeOutputs(outputs) })),
  )
    .setProtectedHeader({ ...INFER_JWE, cty: 'application/json' })
    .encrypt(replyKey)
  return { status: 200, contentType: 'application/jose', body: answer }
}

async function checkCaller(verify: VerifyCaller | 'open', authorization: string | undefined) {
  if (verify === 'open') return
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(authorization ?? '')
  if (match?.[1] === undefined)
    throw new InferenceError(
      'ERR_INFER_UNAUTHORIZED',
      'A caller token (Authorization: Bearer) is required',
    )
  try {
    await verify(match[1])
  } catch (cause) {
    throw new InferenceError(
      'ERR_INFER_UNAUTHORIZED',
      `The caller token is refused${isSubrosaError(cause) ? ` (${cause.code})` : ''}`,
      { cause },
    )
  }
}

async function decryptRequest(body: Uint8Array, key: CryptoKey): Promise<Uint8Array> {
  const jwe = new TextDecoder().decode(body).trim()
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$/.test(jwe))
    throw new InferenceError('ERR_INFER_BAD_REQUEST', 'The body is not a compact JWE')
  try {
    const { plaintext } = await compactDecrypt(jwe, key, {
      keyManagementAlgorithms: [INFER_JWE.alg],
      contentEncryptionAlgorithms: [INFER_JWE.enc],
    })
    return plaintext
  } catch (cause) {
    const code = (cause as { code?: unknown }).code
    if (code === 'ERR_JWE_DECRYPTION_FAILED')
      throw new InferenceError(
        'ERR_INFER_DECRYPT',
        'The request does not decrypt with the attested key (another key, or changed in transit)',
      )
    throw new InferenceError('ERR_INFER_BAD_REQUEST', `The JWE is refused (${String(code)})`)
  }
}

function json(status: number, body: unknown): HandlerResponse {
  return { status, contentType: 'application/json', body: JSON.stringify(body) }
}

function problem(error: BaseError): HandlerResponse {
  const status = INFERENCE_HTTP_STATUS[error.code as InferenceErrorCode] ?? 500
  return {
    status,
    contentType: 'application/problem+json',
    body: JSON.stringify({
      type: problemType(error.code),
      title: error.code,
      status,
      detail: error.message,
      code: error.code,
      ...(error.details === undefined ? {} : { details: error.details }),
    }),
  }
}

/** A running HTTPS inference service. */
export type RunningInferenceService = {
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

/**
 * Serve the handler over HTTPS with the service's certificate. Bodies over the limit are cut off
 * while reading (413) without being buffered.
 */
export async function serveInference(
  handle: (request: HandlerRequest) => Promise<HandlerResponse>,
  options: {
    readonly tls: { readonly certPem: string; readonly keyPem: string }
    readonly host?: string
    readonly port?: number
    readonly maxBodyBytes?: number
  },
): Promise<RunningInferenceService> {
  const maxBody = options.maxBodyBytes ?? 1 << 20
  const server = createServer(
    { cert: options.tls.certPem, key: options.tls.keyPem },
    (req, res) => {
      const chunks: Buffer[] = []
      let size = 0
      let over = false
      // A client that goes away mid-body: nothing to answer.
      req.on('error', () => res.destroy())
      req.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBody) over = true
        else chunks.push(chunk)
      })
      req.on('end', () => {
        void handle({
          method: req.method ?? 'GET',
          path: (req.url ?? '/').split('?')[0] ?? '/',
          authorization: req.headers.authorization,
          body: over ? new Uint8Array(0) : new Uint8Array(Buffer.concat(chunks)),
          oversize: over,
        })
          .then((r) => {
            res.writeHead(r.status, {
              'content-type': r.contentType,
              'cache-control': 'no-store',
            })
            res.end(r.body)
          })
          .catch(() => res.destroy())
      })
    },
  )
  const host = options.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
