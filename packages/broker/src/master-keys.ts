import { localUnwrap, localWrap } from '@subrosa/crypto'
import { masterKeyId, ProtocolError, parseMasterKeyId } from '@subrosa/protocol'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { openForNamespace, sealForNamespace } from './namespace-keys.ts'

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

function context(namespace: string, name: string): string {
  return `master-key:${namespace}/${name}`
}

/** Create a dataset master key (32 random bytes, sealed under its namespace's key). Idempotent. */
export async function createMasterKey(
  ctx: BrokerContext,
  ownerId: string,
  namespace: string,
  name: string,
): Promise<{ id: string; created: boolean }> {
  if (!NAME.test(namespace) || !NAME.test(name)) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'Key namespace and name must be DNS labels')
  }
  const id = masterKeyId(namespace, name)
  // The row and its audit entry commit together: a crash leaves both or neither.
  const created = await ctx.db.transaction(async (tx) => {
    const key = ctx.random(32)
    const sealed = await sealForNamespace(ctx, namespace, key, context(namespace, name), tx)
    key.fill(0)
    const rows = (
      await tx.query(
        'INSERT INTO master_keys (namespace, name, sealed, created_at, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING name',
        [namespace, name, sealed, ctx.clock(), ownerId],
      )
    ).rows
    if (rows.length > 0) {
      await appendAudit(tx, ctx.clock, {
        kind: 'key.create',
        namespace,
        data: { key: id, by: ownerId },
      })
    }
    return rows.length > 0
  })
  return { id, created }
}

/** Resolve a master key id to its namespace, name and plaintext key. */
async function loadMasterKey(
  ctx: BrokerContext,
  id: string,
): Promise<{ namespace: string; name: string; key: Uint8Array }> {
  const parsed = parseMasterKeyId(id)
  if (parsed === undefined)
    throw new BrokerError('ERR_BROKER_NOT_FOUND', 'Unknown master key id form')
  const row = (
    await ctx.db.query<{ sealed: Uint8Array }>(
      'SELECT sealed FROM master_keys WHERE namespace = $1 AND name = $2',
      [parsed.namespace, parsed.key],
    )
  ).rows[0]
  if (row === undefined)
    throw new BrokerError('ERR_BROKER_NOT_FOUND', `Master key ${id} does not exist`)
  return {
    namespace: parsed.namespace,
    name: parsed.key,
    key: await openForNamespace(
      ctx,
      parsed.namespace,
      row.sealed,
      context(parsed.namespace, parsed.key),
    ),
  }
}

/** The namespace and key name of a master key id, without touching key material. */
export function masterKeyRef(id: string): { namespace: string; name: string } {
  const parsed = parseMasterKeyId(id)
  if (parsed === undefined)
    throw new BrokerError('ERR_BROKER_NOT_FOUND', 'Unknown master key id form')
  return { namespace: parsed.namespace, name: parsed.key }
}

/** Wrap a key under a master key (parquet-java local-wrap format). */
export async function wrapWithMasterKey(
  ctx: BrokerContext,
  id: string,
  key: Uint8Array,
): Promise<string> {
  const master = await loadMasterKey(ctx, id)
  try {
    return localWrap(master.key, key, id, ctx.random)
  } finally {
    master.key.fill(0)
  }
}

/** Unwrap a key wrapped under a master key. */
export async function unwrapWithMasterKey(
  ctx: BrokerContext,
  id: string,
  wrapped: string,
): Promise<Uint8Array> {
  const master = await loadMasterKey(ctx, id)
  try {
    return localUnwrap(master.key, wrapped, id)
  } finally {
    master.key.fill(0)
  }
}
