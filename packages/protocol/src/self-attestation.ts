import { createHash } from 'node:crypto'
import { concatBytes, fromBase64Url, utf8 } from '@subrosa/core'
import { z } from 'zod'
import { ProtocolError } from './errors.ts'

/** Path of the broker's self-attestation: `GET /v1/attestation/self?nonce=<base64url>`. */
export const SELF_ATTESTATION_PATH = '/v1/attestation/self'

/** Name (and version) of the binding below; also the `binding` field of the response. */
export const SELF_ATTESTATION_BINDING = 'subrosa-broker-self-attestation-v1'

/** Accepted nonce lengths, in bytes (before base64url). */
export const SELF_ATTESTATION_NONCE_BYTES = { min: 16, max: 64 } as const

/**
 * The 64-byte report data of the broker's self-attestation:
 * `SHA-512(UTF-8("subrosa-broker-self-attestation-v1") || 0x00 || SHA-256(DER of the broker's
 * TLS certificate) || nonce)`. Evidence carrying it says: this TEE served TLS with this
 * certificate, after the client chose this nonce. Domain-separated from the KBS binding.
 *
 * @example selfAttestationReportData(peerCertificateDer, nonce).length // 64
 */
export function selfAttestationReportData(
  certificateDer: Uint8Array,
  nonce: Uint8Array,
): Uint8Array {
  const certHash = new Uint8Array(createHash('sha256').update(certificateDer).digest())
  const input = concatBytes(utf8(SELF_ATTESTATION_BINDING), Uint8Array.of(0), certHash, nonce)
  return new Uint8Array(createHash('sha512').update(input).digest())
}

/**
 * Parse the `nonce` query parameter: base64url (no padding) of 16 to 64 bytes.
 *
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED`.
 */
export function parseSelfAttestationNonce(text: unknown): Uint8Array {
  const bytes = typeof text === 'string' && text.length <= 128 ? fromBase64Url(text) : undefined
  const { min, max } = SELF_ATTESTATION_NONCE_BYTES
  if (bytes === undefined || bytes.length < min || bytes.length > max) {
    throw new ProtocolError(
      'ERR_PROTOCOL_MALFORMED',
      `The nonce must be base64url of ${min} to ${max} bytes`,
    )
  }
  return bytes
}

const pem = z.string().max(16 << 10)

/** `GET /v1/attestation/self` response. */
export const selfAttestationResponseSchema = z.object({
  binding: z.literal(SELF_ATTESTATION_BINDING),
  tee: z.string().max(16),
  insecure: z.boolean(),
  nonce: z.string().max(128),
  evidence: z.unknown(),
  /** PEM of the broker's TLS server certificate, the one report_data binds. */
  certificate: pem,
  certificateSha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** PEM of the broker CA that issued it (clients pin it). */
  caCertificate: pem,
  /** Sim only: the public platform key the evidence is signed with (pin it out of band). */
  platformKey: z.record(z.string(), z.unknown()).optional(),
  build: z.string().max(200),
})
export type SelfAttestationResponse = z.infer<typeof selfAttestationResponseSchema>
