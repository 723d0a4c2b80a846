import { createHash } from 'node:crypto'
import { toBase64Url } from '@subrosa/core'
import {
  CompactSign,
  calculateJwkThumbprintUri,
  compactVerify,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose'
import { z } from 'zod'
import { ProtocolError } from './errors.ts'

/** `typ` of an admin request proof. */
export const ADMIN_PROOF_TYPE = 'subrosa-admin+jwt'
/** HTTP `Authorization` scheme carrying an admin request proof. */
export const ADMIN_AUTH_SCHEME = 'Subrosa-Owner'

/** An owner key pair (EC P-256) and its id, the RFC 9278 JWK thumbprint URI used in policies. */
export type OwnerKey = { readonly privateJwk: JWK; readonly publicJwk: JWK; readonly id: string }

/** Generate an owner key: the custodian's credential for the admin API. */
export async function generateOwnerKey(): Promise<OwnerKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const publicJwk = { ...(await exportJWK(publicKey)), alg: 'ES256' }
  const privateJwk = { ...(await exportJWK(privateKey)), alg: 'ES256' }
  return { privateJwk, publicJwk, id: await ownerKeyId(publicJwk) }
}

/** The id of an owner public key: `urn:ietf:params:oauth:jwk-thumbprint:sha-256:<b64url>`. */
export async function ownerKeyId(publicJwk: JWK): Promise<string> {
  return calculateJwkThumbprintUri(publicJwk, 'sha256')
}

/** The request an admin proof covers. */
export type AdminRequest = {
  readonly method: string
  readonly path: string
  readonly body: Uint8Array
}

const proofPayloadSchema = z.strictObject({
  htm: z.string(),
  htu: z.string(),
  bh: z.string(),
  iat: z.number().int(),
  jti: z.string().min(16).max(64),
})

/**
 * Sign an admin request, in the manner of DPoP (RFC 9449): an ES256 JWS over the method, path,
 * SHA-256 of the body, time and a unique id, with the owner key id as `kid`.
 */
export async function createAdminProof(
  request: AdminRequest,
  owner: { readonly privateJwk: JWK; readonly id: string },
  now: Date,
  jti: string,
): Promise<string> {
  const payload = {
    htm: request.method.toUpperCase(),
    htu: request.path,
    bh: bodyHash(request.body),
    iat: Math.floor(now.getTime() / 1000),
    jti,
  }
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: 'ES256', typ: ADMIN_PROOF_TYPE, kid: owner.id })
    .sign(await importJWK(owner.privateJwk, 'ES256'))
}

/** Options of {@link verifyAdminProof}. */
export type VerifyAdminProofOptions = {
  readonly now: Date
  /** Public JWK of a registered owner key, or undefined when the id is unknown. */
  readonly resolveKey: (id: string) => Promise<JWK | undefined>
  readonly maxSkewSeconds?: number
}

/**
 * Verify an admin request proof against the request it arrived with. Replay protection (the
 * `jti` seen before) is the caller's, which owns the store.
 *
 * @throws ProtocolError `ERR_ADMIN_PROOF` naming what failed (never the proof itself).
 */
export async function verifyAdminProof(
  proof: unknown,
  request: AdminRequest,
  options: VerifyAdminProofOptions,
): Promise<{ ownerId: string; jti: string; iat: number }> {
  if (typeof proof !== 'string' || proof.length > 4096) throw fail('missing or oversized proof')
  let header: ReturnType<typeof decodeProtectedHeader>
  try {
    header = decodeProtectedHeader(proof)
  } catch (cause) {
    throw fail('proof is not a compact JWS', cause)
  }
  if (header.alg !== 'ES256' || header.typ !== ADMIN_PROOF_TYPE || typeof header.kid !== 'string') {
    throw fail('proof header must have alg ES256, typ subrosa-admin+jwt and a kid')
  }
  const key = await options.resolveKey(header.kid)
  if (key === undefined) throw fail('the signing key is not a registered owner key')
  let payloadBytes: Uint8Array
  try {
    payloadBytes = (
      await compactVerify(proof, await importJWK(key, 'ES256'), { algorithms: ['ES256'] })
    ).payload
  } catch (cause) {
    throw fail('signature does not verify', cause)
  }
  let payload: z.infer<typeof proofPayloadSchema>
  try {
    payload = proofPayloadSchema.parse(JSON.parse(new TextDecoder().decode(payloadBytes)))
  } catch (cause) {
    throw fail('payload is malformed', cause)
  }
  if (payload.htm !== request.method.toUpperCase() || payload.htu !== request.path) {
    throw fail('proof was made for another request')
  }
  if (payload.bh !== bodyHash(request.body)) throw fail('proof was made for another body')
  const skew = options.maxSkewSeconds ?? 60
  if (Math.abs(options.now.getTime() / 1000 - payload.iat) > skew)
    throw fail('proof is outside the accepted time window')
  return { ownerId: header.kid, jti: payload.jti, iat: payload.iat }
}

function bodyHash(body: Uint8Array): string {
  return toBase64Url(new Uint8Array(createHash('sha256').update(body).digest()))
}

function fail(why: string, cause?: unknown): ProtocolError {
  return new ProtocolError(
    'ERR_ADMIN_PROOF',
    `Admin request refused: ${why}`,
    cause === undefined ? {} : { cause },
  )
}
