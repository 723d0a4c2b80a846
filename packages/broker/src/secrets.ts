import type { Policy } from '@subrosa/policy'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { openForNamespace, sealForNamespace } from './namespace-keys.ts'

function context(namespace: string, policy: string, name: string): string {
  return `secret:${namespace}/${policy}/${name}`
}

/** Create the policy's generated secrets that do not exist yet; returns their names. */
export async function ensureGeneratedSecrets(
  ctx: BrokerContext,
  policy: Policy,
): Promise<string[]> {
  const { namespace, name: policyName } = policy.metadata
  const created: string[] = []
  for (const spec of policy.secrets) {
    const value = ctx.random(spec.generate.bytes)
    const sealed = await sealForNamespace(
      ctx,
      namespace,
      value,
      context(namespace, policyName, spec.name),
    )
    value.fill(0)
    const rows = (
      await ctx.db.query<{ name: string }>(
        'INSERT INTO secrets (namespace, policy, name, sealed, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING name',
        [namespace, policyName, spec.name, sealed, ctx.clock()],
      )
    ).rows
    if (rows.length > 0) {
      created.push(spec.name)
      await appendAudit(ctx.db, ctx.clock, {
        kind: 'secret.generate',
        namespace,
        data: { policy: policyName, secret: spec.name, bytes: spec.generate.bytes },
      })
    }
  }
  return created
}

/**
 * The plaintext of a stored secret. The caller releases it only after a policy decision and
 * records the release in the audit log.
 *
 * @throws BrokerError `ERR_BROKER_NOT_FOUND`.
 */
export async function loadSecret(
  ctx: BrokerContext,
  namespace: string,
  policy: string,
  name: string,
): Promise<Uint8Array> {
  const row = (
    await ctx.db.query<{ sealed: Uint8Array }>(
      'SELECT sealed FROM secrets WHERE namespace = $1 AND policy = $2 AND name = $3',
      [namespace, policy, name],
    )
  ).rows[0]
  if (row === undefined)
    throw new BrokerError(
      'ERR_BROKER_NOT_FOUND',
      `Secret ${namespace}/${policy}/${name} does not exist`,
    )
  return openForNamespace(ctx, namespace, row.sealed, context(namespace, policy, name))
}
