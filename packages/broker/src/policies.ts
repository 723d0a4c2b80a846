import { isSubrosaError } from '@subrosa/core'
import { type Policy, parsePolicy, policyHash } from '@subrosa/policy'
import type {
  ApplyPolicyResponse,
  PolicyVersionResponse,
  PolicyVersionSummary,
} from '@subrosa/protocol'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { authorizeNamespace } from './namespaces.ts'
import { countApprovals } from './policy-approvals.ts'
import { ensureGeneratedSecrets } from './secrets.ts'

/** A stored policy version. */
export type StoredPolicy = {
  readonly policy: Policy
  readonly version: number
  readonly hash: string
}

/** What applying a policy did (the admin API's answer). */
export type ApplyPolicyResult = ApplyPolicyResponse

/**
 * Apply a policy document as a new version. The signer must own the namespace (the first
 * policy or key claims it) and be an owner of the governing version: the current one for an
 * update, the new one for a creation. The governing version's `owners.threshold` owners must
 * approve: each approval is an owner's signature over this version's hash
 * (`signPolicyApproval`), and the signer's own request proof counts as one unless the broker
 * runs with `signedPoliciesOnly`. `metadata.predecessor` must be the current version's hash,
 * so concurrent and rolled-back updates are refused. Applying the current version again changes
 * nothing. Generated secrets are created on first apply. Every refusal is audited
 * (`policy.deny`).
 *
 * @throws PolicyError `ERR_POLICY_YAML`, `ERR_POLICY_INVALID`; ProtocolError
 * `ERR_POLICY_APPROVAL`; BrokerError `ERR_BROKER_FORBIDDEN`, `ERR_BROKER_CONFLICT`,
 * `ERR_BROKER_APPROVAL`, `ERR_BROKER_OWNER_REVOKED`.
 */
export async function applyPolicy(
  ctx: BrokerContext,
  ownerId: string,
  yaml: string,
  approvals: readonly string[] = [],
): Promise<ApplyPolicyResult> {
  const policy = parsePolicy(yaml)
  const hash = policyHash(policy)
  const { namespace, name, predecessor } = policy.metadata
  await authorizeNamespace(ctx, ownerId, namespace, { claim: true })
  try {
    const current = await latestPolicy(ctx, namespace, name)
    if (current !== undefined && current.hash === hash) {
      return {
        namespace,
        name,
        version: current.version,
        hash,
        created: false,
        approvedBy: await approvedByOf(ctx, namespace, name, current.version),
      }
    }
    const governing = current?.policy.owners ?? policy.owners
    if (!governing.keys.includes(ownerId)) {
      throw new BrokerError(
        'ERR_BROKER_FORBIDDEN',
        current === undefined
          ? 'The signer must be one of the owners of the policy it applies'
          : `The signer is not an owner of the current version of ${namespace}/${name}`,
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
    const approved = await countApprovals(ctx, {
      subject: { namespace, name, hash },
      governing,
      approvals,
      requester: ctx.signedPoliciesOnly === true ? undefined : ownerId,
    })
    const version = (current?.version ?? 0) + 1
    const approvedBy = approved.map((a) => a.ownerId)
    // The version, its generated secrets and its audit entry commit together. Two replicas
    // racing with the same predecessor: the primary key lets one version n+1 in.
    await ctx.db.transaction(async (tx) => {
      const inserted = (
        await tx.query(
          'INSERT INTO policies (namespace, name, version, hash, yaml, doc, created_at, created_by, predecessor, approvals) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING RETURNING version',
          [
            namespace,
            name,
            version,
            hash,
            yaml,
            JSON.stringify(policy),
            ctx.clock(),
            ownerId,
            expected,
            JSON.stringify(
              approved.map((a) => ({ owner: a.ownerId, approval: a.approval ?? null })),
            ),
          ],
        )
      ).rows
      if (inserted.length === 0) {
        throw new BrokerError(
          'ERR_BROKER_CONFLICT',
          `Policy ${namespace}/${name} changed concurrently; fetch the current version and retry`,
          { details: { expected: expected ?? 'null' } },
        )
      }
      const generated = await ensureGeneratedSecrets({ ...ctx, db: tx }, policy)
      await appendAudit(tx, ctx.clock, {
        kind: 'policy.apply',
        namespace,
        data: { policy: name, version, hash, by: ownerId, approvedBy, secretsGenerated: generated },
      })
    })
    ctx.log({ event: 'policy-change', namespace, policy: name, version })
    return { namespace, name, version, hash, created: true, approvedBy }
  } catch (error) {
    if (isSubrosaError(error)) {
      await appendAudit(ctx.db, ctx.clock, {
        kind: 'policy.deny',
        namespace,
        data: { policy: name, hash, by: ownerId, code: error.code },
      })
    }
    throw error
  }
}

/** The current version of a policy, or undefined. */
export async function latestPolicy(
  ctx: BrokerContext,
  namespace: string,
  name: string,
): Promise<StoredPolicy | undefined> {
  const row = (
    await ctx.db.query<{ version: number; hash: string }>(
      'SELECT version, hash FROM policies WHERE namespace = $1 AND name = $2 ORDER BY version DESC LIMIT 1',
      [namespace, name],
    )
  ).rows[0]
  return row === undefined ? undefined : policyVersionOf(ctx, namespace, name, row)
}

/**
 * Parsed policy documents by content hash (SHA-384 of the canonical document, metadata
 * included): a version never changes, so the hot paths read only a version's hash and parse its
 * document once per process. Frozen, so that no caller can change what another one reads.
 */
const documents = new Map<string, Policy>()
const MAX_DOCUMENTS = 1024

/**
 * The stored policy `namespace/name` at `version` (whose hash the caller just read), its
 * document from the cache when seen before.
 *
 * @throws BrokerError `ERR_BROKER_NOT_FOUND` when that version does not exist.
 */
export async function policyVersionOf(
  ctx: BrokerContext,
  namespace: string,
  name: string,
  at: { readonly version: number; readonly hash: string },
): Promise<StoredPolicy> {
  let policy = documents.get(at.hash)
  if (policy === undefined) {
    const row = (
      await ctx.db.query<{ doc: Policy }>(
        'SELECT doc FROM policies WHERE namespace = $1 AND name = $2 AND version = $3 AND hash = $4',
        [namespace, name, at.version, at.hash],
      )
    ).rows[0]
    if (row === undefined)
      throw new BrokerError(
        'ERR_BROKER_NOT_FOUND',
        `Policy ${namespace}/${name} version ${at.version} does not exist`,
      )
    policy = deepFreeze(row.doc)
    if (documents.size >= MAX_DOCUMENTS) documents.delete(documents.keys().next().value as string)
    documents.set(at.hash, policy)
  }
  return { policy, version: at.version, hash: at.hash }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
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

type VersionRow = {
  version: number
  hash: string
  predecessor: string | null
  created_at: Date
  created_by: string
  approvals: { owner: string }[]
  yaml: string
  doc: Policy
}

function summary(row: VersionRow): PolicyVersionSummary {
  return {
    version: row.version,
    hash: row.hash,
    predecessor: row.predecessor,
    createdAt: new Date(row.created_at).toISOString(),
    createdBy: row.created_by,
    approvedBy: row.approvals.map((a) => a.owner),
  }
}

/**
 * Every version of a policy, oldest first.
 *
 * @throws BrokerError `ERR_BROKER_NOT_FOUND`.
 */
export async function policyHistory(
  ctx: BrokerContext,
  namespace: string,
  name: string,
): Promise<PolicyVersionSummary[]> {
  const rows = (
    await ctx.db.query<VersionRow>(
      'SELECT version, hash, predecessor, created_at, created_by, approvals FROM policies WHERE namespace = $1 AND name = $2 ORDER BY version',
      [namespace, name],
    )
  ).rows
  if (rows.length === 0)
    throw new BrokerError('ERR_BROKER_NOT_FOUND', `Policy ${namespace}/${name} does not exist`)
  return rows.map(summary)
}

/**
 * One version of a policy with the document as applied.
 *
 * @throws BrokerError `ERR_BROKER_NOT_FOUND`.
 */
export async function policyVersion(
  ctx: BrokerContext,
  namespace: string,
  name: string,
  version: number,
): Promise<PolicyVersionResponse> {
  const row = (
    await ctx.db.query<VersionRow>(
      'SELECT version, hash, predecessor, created_at, created_by, approvals, yaml, doc FROM policies WHERE namespace = $1 AND name = $2 AND version = $3',
      [namespace, name, version],
    )
  ).rows[0]
  if (row === undefined) {
    throw new BrokerError(
      'ERR_BROKER_NOT_FOUND',
      `Policy ${namespace}/${name} has no version ${version}`,
    )
  }
  return { ...summary(row), yaml: row.yaml, policy: row.doc }
}

async function approvedByOf(
  ctx: BrokerContext,
  namespace: string,
  name: string,
  version: number,
): Promise<string[]> {
  return (await policyVersion(ctx, namespace, name, version)).approvedBy
}
