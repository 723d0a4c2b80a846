import { createHash, timingSafeEqual } from 'node:crypto'
import { request as httpsRequest } from 'node:https'
import type { TLSSocket } from 'node:tls'
import { verifyEvidence } from '@subrosa/attest'
import { equalBytes, toBase64Url, toHex } from '@subrosa/core'
import {
  parseWire,
  SELF_ATTESTATION_PATH,
  selfAttestationReportData,
  selfAttestationResponseSchema,
} from '@subrosa/protocol'
import type { JWK } from 'jose'
import type { BrokerConnection } from './client.ts'
import { BrokerCallError, SdkError } from './errors.ts'

const MAX_RESPONSE = 256 << 10

/** What a broker's self-attestation response is, with the certificate its TLS connection showed. */
export type FetchedBrokerAttestation = {
  readonly body: unknown
  /** DER of the certificate the broker presented on the TLS connection that carried the answer. */
  readonly peerCertificate: Uint8Array
}

/**
 * `GET /v1/attestation/self?nonce=` over a fresh TLS connection to the broker (its CA pinned),
 * returning the body and the certificate the broker presented on that very connection.
 *
 * @throws SdkError `ERR_SDK_CONNECT`, `ERR_SDK_RESPONSE`, `ERR_SDK_CONFIG`; BrokerCallError.
 */
export function fetchBrokerAttestation(
  connection: BrokerConnection,
  nonce: Uint8Array,
): Promise<FetchedBrokerAttestation> {
  let url: URL
  try {
    url = new URL(`${SELF_ATTESTATION_PATH}?nonce=${toBase64Url(nonce)}`, connection.url)
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONFIG', 'The broker URL is not a URL', { cause })
  }
  if (url.protocol !== 'https:')
    throw new SdkError('ERR_SDK_CONFIG', 'The broker URL must be https')
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method: 'GET',
        ca: connection.caPem,
        agent: false,
        headers: { accept: 'application/json' },
      },
      (res) => {
        const raw = (res.socket as TLSSocket).getPeerCertificate?.()?.raw
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          size += chunk.length
          if (size > MAX_RESPONSE) {
            req.destroy()
            reject(new SdkError('ERR_SDK_RESPONSE', 'Self-attestation response is too large'))
          } else chunks.push(chunk)
        })
        res.on('end', () => {
          let body: unknown
          try {
            body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
          } catch (cause) {
            reject(
              new SdkError('ERR_SDK_RESPONSE', 'Self-attestation answer is not JSON', { cause }),
            )
            return
          }
          const status = res.statusCode ?? 0
          if (status >= 400) {
            const p = (body ?? {}) as { code?: unknown; detail?: unknown }
            reject(
              new BrokerCallError(
                typeof p.code === 'string' ? p.code : 'ERR_SDK_RESPONSE',
                typeof p.detail === 'string' ? p.detail : `HTTP ${status}`,
                status,
              ),
            )
          } else if (raw === undefined) {
            reject(new SdkError('ERR_SDK_CONNECT', 'The broker presented no TLS certificate'))
          } else {
            resolve({ body, peerCertificate: new Uint8Array(raw) })
          }
        })
      },
    )
    req.on('error', (cause: NodeJS.ErrnoException) =>
      reject(
        new SdkError(
          'ERR_SDK_CONNECT',
          `Cannot reach the broker at ${url.origin}: ${cause.code ?? cause.message}`,
          { cause },
        ),
      ),
    )
    req.end()
  })
}

/** What a verified self-attestation established. */
export type VerifiedBrokerAttestation = {
  readonly tee: string
  /** True for the sim TEE: nothing is protected by hardware. */
  readonly insecure: boolean
  readonly measurement: string
  /** RFC 7638 thumbprint of the platform key that signed the evidence (sim). */
  readonly platformKey: string
  /** False when the platform key came from the response itself instead of the caller. */
  readonly platformKeyPinned: boolean
  /** SHA-256 (hex) of the TLS certificate the evidence binds: the one the connection showed. */
  readonly certificateSha256: string
  readonly nonce: string
  readonly build: string
}

/**
 * Check a self-attestation answer: the nonce is ours, the certificate the evidence names is the
 * one the TLS connection presented, the evidence verifies (sim: against `simTrustedKeys`, else
 * the response's key, flagged unpinned), and its report data is
 * `selfAttestationReportData(peerCertificate, nonce)`.
 *
 * @throws SdkError `ERR_SDK_ATTESTATION_NONCE`, `ERR_SDK_ATTESTATION_CERTIFICATE`,
 * `ERR_SDK_ATTESTATION_BINDING`; ProtocolError `ERR_PROTOCOL_MALFORMED`; AttestError codes
 * (`ERR_ATTEST_SIGNATURE`, `ERR_ATTEST_UNTRUSTED_KEY`, `ERR_ATTEST_EXPIRED`, ...).
 */
export async function checkBrokerAttestation(
  fetched: FetchedBrokerAttestation,
  options: {
    readonly nonce: Uint8Array
    readonly now: Date
    readonly simTrustedKeys?: readonly JWK[]
  },
): Promise<VerifiedBrokerAttestation> {
  const body = parseWire(selfAttestationResponseSchema, fetched.body, 'self-attestation response')
  if (body.nonce !== toBase64Url(options.nonce))
    throw new SdkError('ERR_SDK_ATTESTATION_NONCE', 'The broker answered for another nonce')
  const peerHash = sha256(fetched.peerCertificate)
  const boundHash = sha256(pemToDer(body.certificate))
  if (!equalBytes(peerHash, boundHash) || body.certificateSha256 !== toHex(peerHash)) {
    throw new SdkError(
      'ERR_SDK_ATTESTATION_CERTIFICATE',
      'The certificate the evidence binds is not the one this TLS connection presented (relay or another broker)',
    )
  }
  const pinned = options.simTrustedKeys !== undefined && options.simTrustedKeys.length > 0
  const trustedKeys = pinned
    ? (options.simTrustedKeys as readonly JWK[])
    : body.platformKey === undefined
      ? []
      : [body.platformKey as JWK]
  const verdict = await verifyEvidence(body.tee, body.evidence, {
    now: options.now,
    sim: { trustedKeys },
  })
  const claims = verdict.claims as {
    reportData?: unknown
    measurement?: unknown
    platformKey?: unknown
  }
  const expected = toHex(selfAttestationReportData(fetched.peerCertificate, options.nonce))
  const reported = typeof claims.reportData === 'string' ? claims.reportData : ''
  if (
    reported.length !== expected.length ||
    !timingSafeEqual(Buffer.from(reported), Buffer.from(expected))
  ) {
    throw new SdkError(
      'ERR_SDK_ATTESTATION_BINDING',
      "The evidence's report data does not bind this certificate and nonce",
    )
  }
  return {
    tee: verdict.claims.tee,
    insecure: verdict.claims.tee === 'sim',
    measurement: typeof claims.measurement === 'string' ? claims.measurement : '',
    platformKey: typeof claims.platformKey === 'string' ? claims.platformKey : '',
    platformKeyPinned: pinned,
    certificateSha256: toHex(peerHash),
    nonce: body.nonce,
    build: body.build,
  }
}

function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest())
}

function pemToDer(pem: string): Uint8Array {
  const match = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/.exec(pem)
  if (match === null)
    throw new SdkError('ERR_SDK_RESPONSE', 'The self-attestation certificate is not PEM')
  return new Uint8Array(Buffer.from((match[1] as string).replace(/\s+/g, ''), 'base64'))
}
