import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'

/**
 * Check that `ownerId` owns `namespace`. With `claim`, an unowned namespace is claimed for the
 * caller (the first owner to create a policy or key in it). A refusal is audited (`admin.deny`)
 * in the namespace, so its owners see the attempt.
 *
 * @throws BrokerError `ERR_BROKER_FORBIDDEN`, or `ERR_BROKER_NOT_FOUND` when absent and not claimed.
 */
export async function authorizeNamespace(
  ctx: BrokerContext,
  ownerId: string,
  namespace: string,
  options: { claim: boolean },
): Promise<void> {
  const row = (
    await ctx.db.query<{ owners: string[] }>('SELECT owners FROM namespaces WHERE name = $1', [
      namespace,
    ])
  ).rows[0]
  if (row === undefined) {
    if (!options.claim)
      throw new BrokerError('ERR_BROKER_NOT_FOUND', `Namespace ${namespace} does not exist`)
    await ctx.db.query(
      'INSERT INTO namespaces (name, owners, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING',
      [namespace, JSON.stringify([ownerId]), ctx.clock()],
    )
    return authorizeNamespace(ctx, ownerId, namespace, { claim: false })
  }
  if (!row.owners.includes(ownerId)) {
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'admin.deny',
      namespace,
      data: { owner: ownerId, code: 'ERR_BROKER_FORBIDDEN', reason: 'not a namespace owner' },
    })
    throw new BrokerError(
      'ERR_BROKER_FORBIDDEN',
      `The caller is not an owner of namespace ${namespace}`,
    )
  }
}

/** Namespaces the owner owns. */
export async function ownedNamespaces(ctx: BrokerContext, ownerId: string): Promise<string[]> {
  const rows = (
    await ctx.db.query<{ name: string; owners: string[] }>('SELECT name, owners FROM namespaces')
  ).rows
  return rows.filter((r) => r.owners.includes(ownerId)).map((r) => r.name)
}
