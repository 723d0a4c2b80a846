import { fromUtf8, toBase64 } from '@subrosa/core'
import { renderTemplate, templateSecretNames } from '@subrosa/policy'
import { encryptJsonToKey, encryptToKey, type Injection } from '@subrosa/protocol'
import type { FlattenedJWE } from 'jose'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import type { WorkloadIdentity } from './kbs.ts'
import { latestPolicy } from './policies.ts'
import { loadSecret } from './secrets.ts'

/** Names of the secrets a workload's injection templates reference. */
export function referencedSecrets(identity: WorkloadIdentity): Set<string> {
  const names = new Set<string>()
  const { env, files } = identity.workload.inject
  for (const t of [...Object.values(env), ...Object.values(files)])
    for (const n of templateSecretNames(t)) names.add(n)
  return names
}

/**
 * `GET /kbs/v0/resource/<ns>/<policy>/<name>`: release one secret, as a JWE to the attested TEE
 * key. Allowed when the workload's own policy references it, or another policy grants it to the
 * workload's policy.
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
  const granted = own
    ? false
    : await isGranted(ctx, namespace, policy, name, `${w.namespace}/${w.policy}`)
  if (!own && !granted) {
    throw new BrokerError(
      'ERR_BROKER_FORBIDDEN',
      `Workload ${identity.ref} may not read secret ${namespace}/${policy}/${name}`,
    )
  }
  const value = await loadSecret(ctx, namespace, policy, name)
  try {
    const jwe = await encryptToKey(value, identity.teeKey)
    await audit(
      ctx,
      identity,
      namespace,
      `${namespace}/${policy}/${name}`,
      granted ? 'grant' : 'policy',
    )
    return jwe
  } finally {
    value.fill(0)
  }
}

async function isGranted(
  ctx: BrokerContext,
  namespace: string,
  policy: string,
  name: string,
  to: string,
): Promise<boolean> {
  const source = await latestPolicy(ctx, namespace, policy)
  return source?.policy.grants.some((g) => g.secret === name && g.to === to) ?? false
}

/**
 * `GET /kbs/v0/workload`: the workload's resolved injection (env, files, key grants) as a JWE
 * to the attested TEE key; one audit entry per secret it contains.
 */
export async function releaseInjection(
  ctx: BrokerContext,
  identity: WorkloadIdentity,
): Promise<FlattenedJWE> {
  const w = identity.claims['subrosa.workload']
  const values = new Map<string, Uint8Array>()
  for (const name of referencedSecrets(identity))
    values.set(name, await loadSecret(ctx, w.namespace, w.policy, name))
  const lookup = (name: string): Uint8Array => {
    const v = values.get(name)
    if (v === undefined)
      throw new BrokerError('ERR_BROKER_NOT_FOUND', `Secret ${name} does not exist`)
    return v
  }
  try {
    const { env, files } = identity.workload.inject
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
      keys: [...identity.workload.keys],
    }
    const jwe = await encryptJsonToKey(injection, identity.teeKey)
    for (const name of values.keys())
      await audit(ctx, identity, w.namespace, `${w.namespace}/${w.policy}/${name}`, 'injection')
    return jwe
  } finally {
    for (const v of values.values()) v.fill(0)
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
