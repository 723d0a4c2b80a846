import type { IncomingMessage, ServerResponse } from 'node:http'
import { isSubrosaError, utf8 } from '@subrosa/core'
import { type TeePublicKey, teePublicKeySchema } from '@subrosa/protocol'
import { CompactEncrypt, type CryptoKey, compactDecrypt, importJWK, type JWK } from 'jose'
import { ATTESTATION_PATH, ATTESTED_JWE, ATTESTED_MEDIA_TYPE } from './attested-fetch.ts'
import { SdkError } from './errors.ts'

/** How a service opens requests sent with `attestedFetch`. */
export type OpenAttestedRequestOptions<Caller> = {
  /** The private half of the service's attested key (`AttestedWorkload.teePrivateKey`). */
  readonly teePrivateKey: CryptoKey | JWK
  /**
   * Verify the caller's bearer token and return who it is; throw to refuse. Typically
   * `(t) => verifyExchangedToken(t, { jwks, issuer, audience, replayCache })`.
   */
  readonly verifyCaller: (token: string) => Promise<Caller>
}

/** An opened request: the verified caller, the decrypted payload, and how to answer. */
export type AttestedRequest<Caller> = {
  readonly caller: Caller
  readonly payload: Record<string, unknown>
  /** Encrypt an answer (JSON) to the caller's ephemeral reply key: a JWE compact string. */
  reply(value: unknown): Promise<string>
}

/**
 * Open a request to an attested service: verify the caller's token FIRST (nothing is decrypted
 * for a refused caller), then decrypt the JWE with the service's attested key and take the
 * caller's `replyKey` out of the payload.
 *
 * @example
 * const request = await openAttestedRequest(
 *   { authorization: req.headers.authorization, body },
 *   { teePrivateKey: attested.teePrivateKey, verifyCaller },
 * )
 * res.end(await request.reply({ score: 0.93 }))
 * @throws SdkError `ERR_ATTESTED_UNAUTHENTICATED`, `ERR_ATTESTED_REQUEST`; whatever
 * `verifyCaller` throws (e.g. ProtocolError `ERR_TOKEN_REPLAY`, `ERR_TOKEN_AUDIENCE`).
 */
export async function openAttestedRequest<Caller>(
  request: { readonly authorization: string | undefined; readonly body: Uint8Array | string },
  options: OpenAttestedRequestOptions<Caller>,
): Promise<AttestedRequest<Caller>> {
  const bearer = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(request.authorization ?? '')?.[1]
  if (bearer === undefined)
    throw new SdkError('ERR_ATTESTED_UNAUTHENTICATED', 'The request carries no bearer token')
  const caller = await options.verifyCaller(bearer)
  const key =
    'kty' in options.teePrivateKey
      ? await importJWK({ ...options.teePrivateKey, alg: ATTESTED_JWE.alg }, ATTESTED_JWE.alg)
      : options.teePrivateKey
  let plaintext: Uint8Array
  try {
    const jwe =
      typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body)
    ;({ plaintext } = await compactDecrypt(jwe.trim(), key, {
      keyManagementAlgorithms: [ATTESTED_JWE.alg],
      contentEncryptionAlgorithms: [ATTESTED_JWE.enc],
    }))
  } catch (cause) {
    throw new SdkError('ERR_ATTESTED_REQUEST', 'The request is not a JWE to this service key', {
      cause,
    })
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder().decode(plaintext))
  } catch (cause) {
    throw new SdkError('ERR_ATTESTED_REQUEST', 'The request payload is not JSON', { cause })
  } finally {
    plaintext.fill(0)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new SdkError('ERR_ATTESTED_REQUEST', 'The request payload is not a JSON object')
  const { replyKey, ...payload } = parsed as Record<string, unknown>
  const reply = teePublicKeySchema.safeParse(replyKey)
  if (!reply.success)
    throw new SdkError('ERR_ATTESTED_REQUEST', 'The request has no P-256 replyKey')
  return { caller, payload, reply: (value) => encryptReply(value, reply.data) }
}

async function encryptReply(value: unknown, to: TeePublicKey): Promise<string> {
  const key = await importJWK({ kty: to.kty, crv: to.crv, x: to.x, y: to.y }, ATTESTED_JWE.alg)
  return new CompactEncrypt(utf8(JSON.stringify(value)))
    .setProtectedHeader({ ...ATTESTED_JWE })
    .encrypt(key)
}

/** Options of {@link attestedHandler}. */
export type AttestedHandlerOptions<Caller> = OpenAttestedRequestOptions<Caller> & {
  /** The service's current EAR token, served at `GET /v1/attestation`. */
  readonly token: () => string
  /** Answer one opened request; the value is encrypted to the caller's reply key. */
  readonly handle: (request: {
    readonly caller: Caller
    readonly payload: Record<string, unknown>
    readonly path: string
  }) => Promise<unknown>
  /** Largest request body (default 1 MiB). */
  readonly maxRequestBytes?: number
}

/**
 * A `node:http`/`node:https` request listener for an attested service: `GET /v1/attestation`
 * answers `{ token }`; a POST to any other path is opened with {@link openAttestedRequest},
 * passed to `handle`, and answered encrypted (`application/jose`). Refusals are RFC 7807
 * problems with the code: 401 for the caller's token, 400 for a malformed request.
 *
 * @example
 * createServer({ cert, key }, attestedHandler({ token: () => attested.token,
 *   teePrivateKey: attested.teePrivateKey, verifyCaller, handle: async ({ payload }) => infer(payload) }))
 */
export function attestedHandler<Caller>(
  options: AttestedHandlerOptions<Caller>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = options.maxRequestBytes ?? 1 << 20
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    if (req.method === 'GET' && path === ATTESTATION_PATH) {
      let token: string
      try {
        token = options.token()
      } catch (error) {
        refuse(res, error)
        return
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify({ token }))
      return
    }
    if (req.method !== 'POST') {
      problem(res, 405, 'ERR_ATTESTED_REQUEST', 'Only POST requests are attested')
      return
    }
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    })
    req.on('end', () => {
      if (size > limit) {
        problem(res, 413, 'ERR_ATTESTED_REQUEST', 'The request is too large')
        return
      }
      void answer(options, req, Buffer.concat(chunks), path).then(
        (jwe) => {
          res.writeHead(200, { 'content-type': ATTESTED_MEDIA_TYPE, 'cache-control': 'no-store' })
          res.end(jwe)
        },
        (error: unknown) => refuse(res, error),
      )
    })
  }
}

async function answer<Caller>(
  options: AttestedHandlerOptions<Caller>,
  req: IncomingMessage,
  body: Buffer,
  path: string,
): Promise<string> {
  const opened = await openAttestedRequest(
    { authorization: req.headers.authorization, body: new Uint8Array(body) },
    options,
  )
  const value = await options.handle({ caller: opened.caller, payload: opened.payload, path })
  return opened.reply(value)
}

function refuse(res: ServerResponse, error: unknown): void {
  if (!isSubrosaError(error)) {
    problem(res, 500, undefined, 'The service failed to answer')
    return
  }
  const code = error.code
  const status =
    code === 'ERR_TOKEN_AUDIENCE'
      ? 403
      : code === 'ERR_ATTESTED_UNAUTHENTICATED' || code.startsWith('ERR_TOKEN_')
        ? 401
        : code === 'ERR_ATTESTED_REQUEST' || code === 'ERR_PROTOCOL_MALFORMED'
          ? 400
          : code === 'ERR_SDK_CACHE_UNAVAILABLE'
            ? 503
            : 500
  problem(res, status, code, error.message)
}

function problem(res: ServerResponse, status: number, code: string | undefined, detail: string) {
  res.writeHead(status, { 'content-type': 'application/problem+json' })
  res.end(
    JSON.stringify({
      type: 'about:blank',
      title: 'Refused',
      status,
      detail,
      ...(code ? { code } : {}),
    }),
  )
}
