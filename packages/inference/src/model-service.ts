// The inference service as it runs under the launcher: make the TLS certificate and the TEE key
// pair, attest (through a callback, so this package does not import the launcher), unwrap the
// model key through the attested KMS, decrypt the model in memory, serve HTTPS, and re-attest
// with the same keys before the token expires.
import { type Clock, isSubrosaError, systemClock } from '@subrosa/core'
import type { KmsClient } from '@subrosa/crypto'
import { type CryptoKey, decodeJwt, generateKeyPair } from 'jose'
import { loadEncryptedModel } from './model-file.ts'
import {
  createInferenceHandler,
  type InferenceLogEvent,
  serveInference,
  type VerifyCaller,
} from './service.ts'
import { createServiceCertificate, type ServiceTlsCredentials } from './tls.ts'

/** What the service asks its attest callback for: attest this key pair (and certificate). */
export type AttestRequest = {
  readonly keyPair: { readonly privateKey: CryptoKey; readonly publicKey: CryptoKey }
  /** The service's DER TLS certificate, for a token that binds it (`subrosa.tls-cert-sha256`). */
  readonly tlsCertificate: Uint8Array
}

/** What an attestation gives the service: its token and a KMS only it can use. */
export type AttestResult = { readonly token: string; readonly kms: KmsClient }

/** Service log events: requests (see {@link InferenceLogEvent}) and re-attestations. */
export type ModelServiceLogEvent =
  | InferenceLogEvent
  | { readonly event: 'reattested'; readonly expiresAt: string }
  | { readonly event: 'reattest-failed'; readonly code: string }

/** Options of {@link startModelService}. */
export type ModelServiceOptions = {
  /** The encrypted model file (streaming AEAD format); decrypted only in memory. */
  readonly modelFile: Uint8Array
  readonly attest: (request: AttestRequest) => Promise<AttestResult>
  readonly verifyCaller: VerifyCaller | 'open'
  /** Names in the TLS certificate (default: the listen host). */
  readonly hosts?: readonly string[]
  readonly host?: string
  readonly port?: number
  readonly maxBodyBytes?: number
  readonly log?: (event: ModelServiceLogEvent) => void
  readonly clock?: Clock
  /** Shortest wait before a re-attestation, also after a failed one (default 10 s). */
  readonly minReattestDelayMs?: number
}

/** A running model service. */
export type ModelService = {
  readonly url: string
  readonly tls: Pick<ServiceTlsCredentials, 'certPem' | 'der' | 'sha256'>
  /** SHA-256 (hex) of the decrypted ONNX bytes. */
  readonly modelSha256: string
  token(): string
  close(): Promise<void>
}

/**
 * Start the service: attest, decrypt the model with a key only the broker releases, serve.
 *
 * @example const svc = await startModelService({ modelFile, attest, verifyCaller: 'open', port: 8443 })
 * @throws what `attest` throws (the broker's `ERR_POLICY_DENIED`, ...), what
 * {@link loadEncryptedModel} throws (`ERR_KMS_NOT_GRANTED`, `ERR_STREAM_*`, `ERR_INFER_MODEL`).
 */
export async function startModelService(options: ModelServiceOptions): Promise<ModelService> {
  const clock = options.clock ?? systemClock
  const host = options.host ?? '127.0.0.1'
  const tls = await createServiceCertificate(options.hosts ?? [host], { clock })
  const keyPair = await generateKeyPair('ECDH-ES+A256KW', { extractable: false })
  const request: AttestRequest = { keyPair, tlsCertificate: tls.der }
  const first = await options.attest(request)
  let token = first.token
  const { session, sha256 } = await loadEncryptedModel(options.modelFile, first.kms)
  const handle = createInferenceHandler({
    session,
    token: () => token,
    teePrivateKey: keyPair.privateKey,
    verifyCaller: options.verifyCaller,
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.log === undefined ? {} : { log: options.log }),
  })
  const server = await serveInference(handle, {
    tls,
    host,
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
  }).catch(async (error: unknown) => {
    await session.release()
    throw error
  })
  let closed = false
  let timer: NodeJS.Timeout | undefined
  const schedule = () => {
    if (closed) return
    const exp = decodeJwt(token).exp ?? 0
    const floor = options.minReattestDelayMs ?? 10_000
    const wait = Math.min(2 ** 31 - 1, Math.max(floor, ((exp * 1000 - clock().getTime()) * 2) / 3))
    timer = setTimeout(() => {
      options
        .attest(request)
        .then((r) => {
          if (closed) return
          token = r.token
          options.log?.({
            event: 'reattested',
            expiresAt: new Date((decodeJwt(token).exp ?? 0) * 1000).toISOString(),
          })
        })
        .catch((e: unknown) =>
          options.log?.({
            event: 'reattest-failed',
            code: isSubrosaError(e) ? e.code : 'ERR_UNKNOWN',
          }),
        )
        .finally(schedule)
    }, wait)
    timer.unref()
  }
  schedule()
  return {
    url: server.url,
    tls: { certPem: tls.certPem, der: tls.der, sha256: tls.sha256 },
    modelSha256: sha256,
    token: () => token,
    close: async () => {
      closed = true
      clearTimeout(timer)
      await server.close()
      await session.release()
    },
  }
}
