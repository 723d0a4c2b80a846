import { createHash, X509Certificate } from 'node:crypto'
import { canonicalJson, concatBytes, toBase64Url } from '@subrosa/core'
import { z } from 'zod'
import { ProtocolError } from './errors.ts'

/** The KBS protocol version Subrosa speaks (Trustee RCAR). */
export const KBS_PROTOCOL_VERSION = '0.1.1'

/** Name of the session cookie set by `auth` and presented to `attest` and `resource`. */
export const KBS_SESSION_COOKIE = 'kbs-session-id'

const b64url = z.string().regex(/^[A-Za-z0-9_-]+$/)

/** An EC P-256 public JWK used as the TEE's ephemeral key (ECDH-ES+A256KW). */
export const teePublicKeySchema = z.object({
  kty: z.literal('EC'),
  crv: z.literal('P-256'),
  x: b64url.length(43),
  y: b64url.length(43),
  alg: z.literal('ECDH-ES+A256KW').optional(),
  use: z.string().optional(),
  kid: z.string().max(128).optional(),
})
export type TeePublicKey = z.infer<typeof teePublicKeySchema>

export const authRequestSchema = z.object({
  version: z.string().max(32),
  tee: z.string().max(32),
  'extra-params': z.unknown().optional(),
})
export type AuthRequest = z.infer<typeof authRequestSchema>

export type AuthResponse = { nonce: string; 'extra-params': Record<string, unknown> }

/** Runtime data field that binds a service's TLS certificate (see {@link tlsCertificateSha256}). */
export const TLS_CERT_SHA256_FIELD = 'tls-cert-sha256'

export const runtimeDataSchema = z.object({
  nonce: z.string().max(256),
  'tee-pubkey': teePublicKeySchema,
  /** base64url (no padding) SHA-256 of the DER TLS certificate the workload serves with. */
  'tls-cert-sha256': b64url.length(43).optional(),
})
export type RuntimeData = z.infer<typeof runtimeDataSchema>

export const attestRequestSchema = z.object({
  'init-data': z.unknown().optional(),
  'runtime-data': runtimeDataSchema,
  'tee-evidence': z.object({
    primary_evidence: z.unknown(),
    additional_evidence: z.string().max(65536).optional(),
  }),
})
export type AttestRequest = z.infer<typeof attestRequestSchema>

export type AttestResponse = { token: string }

/**
 * report_data of the KBS binding: SHA-384 of the canonical JSON (RFC 8785) of the runtime data
 * `{nonce, tee-pubkey}` (plus `tls-cert-sha256` when the workload binds its TLS certificate),
 * zero-padded to the 64-byte TEE field. Evidence carrying it proves the TEE generated the key
 * for this nonce. Runtime data without `tls-cert-sha256` hashes exactly as before the field
 * existed.
 *
 * @example reportDataFor({ nonce, 'tee-pubkey': jwk }).length // 64
 */
export function reportDataFor(runtimeData: RuntimeData): Uint8Array {
  const digest = createHash('sha384').update(canonicalJson(runtimeData)).digest()
  return concatBytes(new Uint8Array(digest), new Uint8Array(16))
}

/**
 * base64url (no padding) SHA-256 of a TLS certificate's DER bytes: the value of the runtime
 * data field `tls-cert-sha256` and of the token claim `subrosa.tls-cert-sha256`.
 *
 * @example tlsCertificateSha256(socket.getPeerCertificate().raw) // 43 characters
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` when a PEM string is not one certificate.
 */
export function tlsCertificateSha256(certificate: Uint8Array | string): string {
  let der: Uint8Array = certificate as Uint8Array
  if (typeof certificate === 'string') {
    try {
      der = new Uint8Array(new X509Certificate(certificate).raw)
    } catch (cause) {
      throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'The TLS certificate is not PEM', { cause })
    }
  }
  return toBase64Url(new Uint8Array(createHash('sha256').update(der).digest()))
}

/** What the launcher receives after attestation: resolved env and files, encrypted to its key. */
export type Injection = {
  readonly env: Readonly<Record<string, string>>
  readonly files: readonly { readonly path: string; readonly content: string /* base64 */ }[]
  /** Arguments to append to the workload's command line (absent: none). */
  readonly args?: readonly string[] | undefined
  readonly keys: readonly string[]
}

export const injectionSchema = z.object({
  env: z.record(z.string(), z.string()),
  files: z.array(z.object({ path: z.string(), content: z.string() })),
  args: z.array(z.string()).optional(),
  keys: z.array(z.string()),
})
