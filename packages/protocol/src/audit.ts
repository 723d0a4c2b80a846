import { createHash } from 'node:crypto'
import { canonicalJson } from '@subrosa/core'
import { CompactSign, compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose'
import { z } from 'zod'
import { ProtocolError } from './errors.ts'

/** The hash every chain starts from (the `prevHash` of entry 1). */
export const AUDIT_GENESIS = '0'.repeat(64)
/** `typ` of a signed audit checkpoint. */
export const AUDIT_CHECKPOINT_TYPE = 'subrosa-audit-checkpoint+jwt'
/** First line of an audit export. */
export const AUDIT_EXPORT_FORMAT = 'subrosa-audit-export/v1'

/** The fields an audit entry's hash covers. `dataHash` stands for `data`, so that an export can
 * withhold another namespace's data and still be verified. */
export type AuditHashFields = {
  readonly seq: number
  readonly at: string
  readonly kind: string
  readonly namespace: string | null
  readonly dataHash: string
  readonly prevHash: string
}

/** SHA-256 (hex) of the canonical JSON of an entry's data. */
export function auditDataHash(data: Readonly<Record<string, unknown>>): string {
  return createHash('sha256').update(canonicalJson(data)).digest('hex')
}

/** `hash = SHA-256(canonical JSON of {seq, at, kind, namespace, dataHash, prevHash})`, hex. */
export function auditEntryHash(fields: AuditHashFields): string {
  const { seq, at, kind, namespace, dataHash, prevHash } = fields
  return createHash('sha256')
    .update(canonicalJson({ seq, at, kind, namespace, dataHash, prevHash }))
    .digest('hex')
}

/** A signed statement by the broker: "entry `seq` of my audit chain has hash `head`". */
export type AuditCheckpoint = { seq: number; head: string; at: string; signature: string }

/** Sign a checkpoint with the broker's token-signing key (ES256 JWS, `kid` of the key). */
export async function signAuditCheckpoint(
  checkpoint: { seq: number; head: string; at: string },
  issuer: string,
  signingKey: JWK,
): Promise<AuditCheckpoint> {
  const payload = { iss: issuer, seq: checkpoint.seq, head: checkpoint.head, at: checkpoint.at }
  const signature = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({
      alg: 'ES256',
      typ: AUDIT_CHECKPOINT_TYPE,
      ...(signingKey.kid === undefined ? {} : { kid: signingKey.kid }),
    })
    .sign(await importJWK(signingKey, 'ES256'))
  return { ...checkpoint, signature }
}

const checkpointPayload = z.strictObject({
  iss: z.string(),
  seq: z.number().int().min(1),
  head: z.string().regex(/^[0-9a-f]{64}$/),
  at: z.string(),
})

/**
 * Verify a checkpoint's signature under one of the broker's public keys and that it says what
 * the checkpoint record says.
 *
 * @throws ProtocolError `ERR_AUDIT_CHECKPOINT`.
 */
export async function verifyAuditCheckpoint(
  checkpoint: AuditCheckpoint,
  jwks: { readonly keys: readonly JWK[] },
): Promise<{ issuer: string }> {
  let kid: unknown
  try {
    const header = decodeProtectedHeader(checkpoint.signature)
    if (header.alg !== 'ES256' || header.typ !== AUDIT_CHECKPOINT_TYPE) throw new Error('header')
    kid = header.kid
  } catch (cause) {
    throw checkpointError(checkpoint.seq, 'its signature is not a checkpoint JWS', cause)
  }
  const key = jwks.keys.find((k) => kid === undefined || k.kid === kid)
  if (key === undefined) throw checkpointError(checkpoint.seq, 'it is signed by an unknown key')
  let payload: z.infer<typeof checkpointPayload>
  try {
    const { payload: bytes } = await compactVerify(
      checkpoint.signature,
      await importJWK(key, 'ES256'),
      { algorithms: ['ES256'] },
    )
    payload = checkpointPayload.parse(JSON.parse(new TextDecoder().decode(bytes)))
  } catch (cause) {
    throw checkpointError(checkpoint.seq, 'its signature does not verify', cause)
  }
  if (
    payload.seq !== checkpoint.seq ||
    payload.head !== checkpoint.head ||
    payload.at !== checkpoint.at
  ) {
    throw checkpointError(checkpoint.seq, 'the signed statement differs from the record')
  }
  return { issuer: payload.iss }
}

function checkpointError(seq: number, why: string, cause?: unknown): ProtocolError {
  return new ProtocolError(
    'ERR_AUDIT_CHECKPOINT',
    `Audit checkpoint at entry ${seq} refused: ${why}`,
    { details: { seq }, ...(cause === undefined ? {} : { cause }) },
  )
}
