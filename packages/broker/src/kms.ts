import { fromBase64, toBase64, utf8 } from '@subrosa/core'
import { workloadKeyAllowed } from '@subrosa/policy'
import {
  encryptToTeeKey,
  ProtocolError,
  parseWire,
  teePublicKeySchema,
  type UnwrapResponse,
  unwrapRequestSchema,
  type WrapResponse,
  wrapRequestSchema,
} from '@subrosa/protocol'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import type { WorkloadIdentity } from './kbs.ts'
import { masterKeyRef, unwrapWithMasterKey, wrapWithMasterKey } from './master-keys.ts'
import { authorizeNamespace } from './namespaces.ts'

/** Who calls the KMS: an attested workload (token) or a namespace owner (signed request). */
export type KmsCaller =
  | { readonly kind: 'workload'; readonly identity: WorkloadIdentity }
  | { readonly kind: 'owner'; readonly ownerId: string }

async function authorize(
  ctx: BrokerContext,
  caller: KmsCaller,
  id: string,
  operation: 'wrap' | 'unwrap',
): Promise<string> {
  const { namespace, name } = masterKeyRef(id)
  if (caller.kind === 'owner') {
    await authorizeNamespace(ctx, caller.ownerId, namespace, { claim: false })
    return caller.ownerId
  }
  if (!workloadKeyAllowed(caller.identity.workload, namespace, name, operation)) {
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'key.deny',
      namespace,
      data: {
        key: id,
        operation,
        workload: caller.identity.ref,
        decision: 'deny',
        code: 'ERR_KMS_NOT_GRANTED',
        tokenId: caller.identity.claims.jti,
      },
    })
    throw new BrokerError(
      'ERR_KMS_NOT_GRANTED',
      `Workload ${caller.identity.ref} is not granted ${namespace}/${name}:${operation}`,
    )
  }
  return caller.identity.ref
}

/**
 * `POST /kms/v0/wrap`: wrap a key (a KEK or DEK) under a master key, as parquet-java's KmsClient
 * `wrapKey`. Audited.
 */
export async function kmsWrap(
  ctx: BrokerContext,
  caller: KmsCaller,
  body: unknown,
): Promise<WrapResponse> {
  const request = parseWire(wrapRequestSchema, body, 'KMS wrap request')
  const by = await authorize(ctx, caller, request.masterKeyId, 'wrap')
  const key = fromBase64(request.key)
  if (key === undefined || ![16, 24, 32].includes(key.length)) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'key must be base64 of 16, 24 or 32 bytes')
  }
  try {
    const wrapped = await wrapWithMasterKey(ctx, request.masterKeyId, key)
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'key.wrap',
      namespace: masterKeyRef(request.masterKeyId).namespace,
      data: { key: request.masterKeyId, by, ...tokenRef(caller) },
    })
    return { wrapped }
  } finally {
    key.fill(0)
  }
}

/**
 * `POST /kms/v0/unwrap`: unwrap a key and release it as a JWE to the workload's attested TEE key
 * or, for an owner, to the `recipient` key of the request. Audited as a key release.
 */
export async function kmsUnwrap(
  ctx: BrokerContext,
  caller: KmsCaller,
  body: unknown,
): Promise<UnwrapResponse> {
  const request = parseWire(unwrapRequestSchema, body, 'KMS unwrap request')
  const by = await authorize(ctx, caller, request.masterKeyId, 'unwrap')
  const recipient =
    caller.kind === 'workload'
      ? caller.identity.teeKey
      : parseWire(
          teePublicKeySchema,
          request.recipient,
          'unwrap recipient key (required for owners)',
        )
  const key = await unwrapWithMasterKey(ctx, request.masterKeyId, request.wrapped)
  try {
    const jwe = encryptToTeeKey(utf8(JSON.stringify({ key: toBase64(key) })), recipient, ctx.random)
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'key.release',
      namespace: masterKeyRef(request.masterKeyId).namespace,
      data: { key: request.masterKeyId, to: by, ...tokenRef(caller) },
    })
    ctx.log({ event: 'secret-release', via: 'kms', to: by })
    return { jwe }
  } finally {
    key.fill(0)
  }
}

function tokenRef(caller: KmsCaller): { tokenId?: string } {
  return caller.kind === 'workload' ? { tokenId: caller.identity.claims.jti } : {}
}
