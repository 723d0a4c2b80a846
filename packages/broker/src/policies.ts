import { type Policy, parsePolicy, policyHash } from '@subrosa/policy'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { authorizeNamespace } from './namespaces.ts'
import { ensureGeneratedSecrets } from './secrets.ts'

/** A stored policy version. */
export type StoredPolicy = {
  readonly policy: Policy
  readonly version: number
  readonly hash: string
}

/**
 * Apply a policy document as a new version. The signer must own the namespace (the first
 * policy or key claims it), be one of the new version's owners and, for an update, one of the
 * current version's owners; `metadata.predecessor` must be the current version's hash. Applying
 * the current version again changes nothing. Generated secrets are created on first apply.
 *
 * @throws PolicyError `ERR_POLICY_YAML`, `ERR_POLICY_INVALID`; BrokerError `ERR_BROKER_FORBIDDEN`,
 * `ERR_BROKER_CONFLICT`.
 */
export async function applyPolicy(
  ctx: BrokerContext,
  ownerId: string,
  yaml: string,
): Promise<{ namespace: string; name: string; version: number; hash: string; created: boolean }> {
  const policy = parsePolicy(yaml)
  const hash = policyHash(policy)
  const { namespace, name, predecessor } = policy.metadata
  await authorizeNamespace(ctx, ownerId, namespace, { claim: true })
  if (!policy.owners.keys.includes(ownerId)) {
    throw new BrokerError(
      'ERR_BROKER_FORBIDDEN',
      'The signer must be one of the owners of the policy it applies',
    )
  }
  const current = await latestPolicy(ctx, namespace, name)
  if (current !== undefined && current.hash === hash) {
    return { namespace, name, version: current.version, hash, created: false }
  }
  if (current !== undefined && !current.policy.owners.keys.includes(ownerId)) {
    throw new BrokerError(
      'ERR_BROKER_FORBIDDEN',
      `The signer is not an owner of the current version of ${namespace}/${name}`,
    )
  }
  const expected = current?.hash ?? null
  if (predecessor !== expected) {
    throw new BrokerError(
      'ERR_BROKER_CONFLICT',
      `Policy ${namespace}/${name} must name its predecessor ${expected ?? 'null'} (the current version)`,
      { details: { expected: expected ?? 'null' } },
    )
  }
  const version = (current?.version ?? 0) + 1
  // The version, its generated secrets and its audit entry commit together.
  try {
    await ctx.db.transaction(async (tx) => {
      await tx.query(
        'INSERT INTO policies (namespace, name, version, hash, yaml, doc, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)',
        [namespace, name, version, hash, yaml, JSON.stringify(policy), ctx.clock(), ownerId],
      )
      const generated = await ensureGeneratedSecrets({ ...ctx, db: tx }, policy)
      await appendAudit(tx, ctx.clock, {
        kind: 'policy.apply',
        namespace,
        data: { policy: name, version, hash, by: ownerId, secretsGenerated: generated },
      })
    })
  } catch (error) {
    // Another replica stored this version first.
    if ((error as { code?: unknown }).code === '23505')
      throw new BrokerError(
        'ERR_BROKER_CONFLICT',
        `Policy ${namespace}/${name} changed concurrently; apply against the current version`,
        { details: { expected: expected ?? 'null' } },
      )
    throw error
  }
  return { namespace, name, version, hash, created: true }
}

/** The current version of a policy, or undefined. */
export async function latestPolicy(
  ctx: BrokerContext,
  namespace: string,
  name: string,
): Promise<StoredPolicy | undefined> {
  const row = (
    await ctx.db.query<{ doc: Policy; version: number; hash: string }>(
      'SELECT doc, version, hash FROM policies WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT 1',
      [namespace, name],
    )
  ).rows[0]
  return row === undefined ? undefined : { policy: row.doc, version: row.version, hash: row.hash }
}

/** The current version of a policy; a typed error when absent. */
export async function requirePolicy(
  ctx: BrokerContext,
  namespace: string,
  name: string,
): Promise<StoredPolicy> {
  const stored = await latestPolicy(ctx, namespace, name)
  if (stored === undefined)
    throw new BrokerError('ERR_BROKER_NOT_FOUND', `Policy ${namespace}/${name} does not exist`)
  return stored
}
