import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { JOB_ID, type WorkloadIdentity } from './kbs.ts'
import { authorizeNamespace } from './namespaces.ts'
import { requirePolicy } from './policies.ts'

/** The outcome of a revocation. */
export type JobRevocation = {
  readonly workload: string
  readonly job: string
  /** False when the job was already revoked (nothing changed). */
  readonly revoked: boolean
  /** How many unexpired tokens of the job are refused from now on. */
  readonly tokens: number
}

/**
 * Revoke a job: every token issued for it is refused from now on (`ERR_TOKEN_REVOKED`) and no
 * new attestation may name it (`ERR_JOB_REVOKED`), on every replica (the revocation is a row in
 * the store, read on each authentication). Idempotent; audited as `job.revoke`.
 */
export async function revokeJob(
  ctx: BrokerContext,
  workload: string,
  job: string,
  by: string,
  reason: 'end' | 'cancel',
): Promise<JobRevocation> {
  if (!JOB_ID.test(job))
    throw new BrokerError(
      'ERR_BROKER_NOT_FOUND',
      'A job id is lower-case letters, digits, dots and dashes',
    )
  const now = ctx.clock()
  const inserted = await ctx.db.query<{ job: string }>(
    'INSERT INTO job_revocations (workload, job, revoked_at, revoked_by, reason) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING job',
    [workload, job, now, by, reason],
  )
  const tokens = Number(
    (
      await ctx.db.query<{ n: number | string }>(
        'SELECT count(*) AS n FROM workload_tokens WHERE workload = $1 AND job = $2 AND expires_at > $3',
        [workload, job, now],
      )
    ).rows[0]?.n ?? 0,
  )
  const revoked = inserted.rows.length > 0
  if (revoked) {
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'job.revoke',
      namespace: workload.split('/')[0],
      data: { workload, job, by, reason, tokens },
    })
    ctx.log({ event: 'job-revoke', workload, reason })
  }
  return { workload, job, revoked, tokens }
}

/**
 * `POST /kbs/v0/job/end`: the job's own workload (its driver, when Spark exits) ends the job its
 * token was issued for.
 *
 * @throws BrokerError `ERR_JOB_NONE` for a token issued without a job.
 */
export async function endJob(
  ctx: BrokerContext,
  identity: WorkloadIdentity,
): Promise<JobRevocation> {
  if (identity.job === undefined)
    throw new BrokerError('ERR_JOB_NONE', 'This token was issued without a job: nothing to end')
  return revokeJob(ctx, identity.ref, identity.job, identity.ref, 'end')
}

/**
 * `POST /admin/v0/jobs/:ns/:policy/:workload/:job/revoke`: an owner of the namespace cancels a
 * job of one of its policies' workloads.
 *
 * @throws BrokerError `ERR_BROKER_FORBIDDEN`, `ERR_BROKER_NOT_FOUND`.
 */
export async function cancelJob(
  ctx: BrokerContext,
  ownerId: string,
  params: { ns: string; policy: string; workload: string; job: string },
): Promise<JobRevocation> {
  await authorizeNamespace(ctx, ownerId, params.ns, { claim: false })
  const stored = await requirePolicy(ctx, params.ns, params.policy)
  if (!stored.policy.workloads.some((w) => w.name === params.workload))
    throw new BrokerError(
      'ERR_BROKER_NOT_FOUND',
      `Policy ${params.ns}/${params.policy} has no workload ${params.workload}`,
    )
  return revokeJob(
    ctx,
    `${params.ns}/${params.policy}/${params.workload}`,
    params.job,
    ownerId,
    'cancel',
  )
}
