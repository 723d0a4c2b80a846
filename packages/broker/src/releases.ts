import { fromUtf8, toBase64, utf8 } from '@subrosa/core'
import { type Policy, renderTemplate, type SecretPart, templateSecretNames } from '@subrosa/policy'
import { encryptToTeeKey, type Injection } from '@subrosa/protocol'
import type { FlattenedJWE } from 'jose'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import type { WorkloadIdentity } from './kbs.ts'
import { latestPolicy } from './policies.ts'
import { type OpenedSecret, resolveSecret, secretView } from './secrets.ts'

/**
 * Whom derived secrets are derived for: the workload, or for a job token the workload's job
 * (`<ns>/<policy>/<workload>#<job>`), so that a Spark job's driver and executors share a
 * per-job value (the Spark auth secret) that no other job of the same workload knows.
 */
export function derivationScope(identity: WorkloadIdentity): string {
  return identity.job === undefined ? identity.ref : `${identity.ref}#${identity.job}`
}

/** Names of the secrets a workload's injection templates reference. */
export function referencedSecrets(identity: WorkloadIdentity): Set<string> {
  const names = new Set<string>()
  const { env, files, args } = identity.workload.inject
  for (const t of [...Object.values(env), ...Object.values(files), ...(args ?? [])])
    for (const n of templateSecretNames(t)) names.add(n)
  return names
}

/**
 * `GET /kbs/v0/resource/<ns>/<policy>/<name>`: release one secret, as a JWE to the attested TEE
 * key. Allowed when the workload's own policy references it, or another policy grants it to the
 * workload's policy. A refusal is audited as `secret.deny`. Key pairs and certificates are
 * released as the UTF-8 JSON of their PEM parts; derived secrets as the requester's own value.
 *
 * @throws BrokerError `ERR_BROKER_FORBIDDEN`, `ERR_BROKER_NOT_FOUND`.
 */
export async function releaseResource(
  ctx: BrokerContext,
  identity: WorkloadIdentity,
  namespace: string,
  policy: string,
  name: string,
): Promise<FlattenedJWE> {
  const w = identity.claims['subrosa.workload']
  const own =
    namespace === w.namespace && policy === w.policy && referencedSecrets(identity).has(name)
  const source = own
    ? identity.stored.policy
    : await grantingPolicy(ctx, namespace, policy, name, w)
  if (source === undefined) {
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'secret.deny',
      namespace,
      data: {
        secret: `${namespace}/${policy}/${name}`,
        to: identity.ref,
        code: 'ERR_BROKER_FORBIDDEN',
        tokenId: identity.claims.jti,
      },
    })
    throw new BrokerError(
      'ERR_BROKER_FORBIDDEN',
      `Workload ${identity.ref} may not read secret ${namespace}/${policy}/${name}`,
    )
  }
  const ref = `${namespace}/${policy}/${name}`
  const read = identity.secret?.ref === ref ? identity.secret : undefined
  const secret = await resolveSecret(ctx, source, name, derivationScope(identity), read)
  try {
    const jwe = encryptToTeeKey(secret.value, identity.teeKey, ctx.random)
    await audit(
      ctx,
      identity,
      namespace,
      `${namespace}/${policy}/${name}`,
      own ? 'policy' : 'grant',
    )
    return jwe
  } finally {
    secret.value.fill(0)
  }
}

/** The policy that grants `name` to the workload's policy, or undefined. */
async function grantingPolicy(
  ctx: BrokerContext,
  namespace: string,
  policy: string,
  name: string,
  w: { readonly namespace: string; readonly policy: string },
): Promise<Policy | undefined> {
  const to = `${w.namespace}/${w.policy}`
  const source = await latestPolicy(ctx, namespace, policy)
  return source?.policy.grants.some((g) => g.secret === name && g.to === to) === true
    ? source.policy
    : undefined
}

/**
 * `GET /kbs/v0/workload`: the workload's resolved injection (env, files, args, key grants) as a JWE
 * to the attested TEE key; one audit entry per secret it contains.
 */
export async function releaseInjection(
  ctx: BrokerContext,
  identity: WorkloadIdentity,
): Promise<FlattenedJWE> {
  const w = identity.claims['subrosa.workload']
  const values = new Map<string, OpenedSecret>()
  for (const name of referencedSecrets(identity))
    values.set(
      name,
      await resolveSecret(ctx, identity.stored.policy, name, derivationScope(identity)),
    )
  const lookup = (name: string, part: SecretPart | undefined): Uint8Array => {
    const v = values.get(name)
    if (v === undefined)
      throw new BrokerError('ERR_BROKER_NOT_FOUND', `Secret ${name} does not exist`)
    return secretView(name, v, part)
  }
  try {
    const { env, files, args } = identity.workload.inject
    const injection: Injection = {
      env: Object.fromEntries(
        Object.entries(env).map(([k, t]) => [
          k,
          fromUtf8(renderTemplate(t, { lookup, target: 'env' })),
        ]),
      ),
      files: Object.entries(files).map(([path, t]) => ({
        path,
        content: toBase64(renderTemplate(t, { lookup, target: 'file' })),
      })),
      ...(args === undefined
        ? {}
        : { args: args.map((t) => fromUtf8(renderTemplate(t, { lookup, target: 'arg' }))) }),
      keys: [...identity.workload.keys],
    }
    const jwe = encryptToTeeKey(utf8(JSON.stringify(injection)), identity.teeKey, ctx.random)
    for (const name of values.keys())
      await audit(ctx, identity, w.namespace, `${w.namespace}/${w.policy}/${name}`, 'injection')
    return jwe
  } finally {
    for (const v of values.values()) v.value.fill(0)
  }
}

async function audit(
  ctx: BrokerContext,
  identity: WorkloadIdentity,
  namespace: string,
  secret: string,
  via: string,
): Promise<void> {
  await appendAudit(ctx.db, ctx.clock, {
    kind: 'secret.release',
    namespace,
    data: { secret, to: identity.ref, via, tokenId: identity.claims.jti },
  })
  ctx.log({ event: 'secret-release', via, to: identity.ref, namespace })
}
