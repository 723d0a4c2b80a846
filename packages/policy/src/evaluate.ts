import type { Claims } from '@subrosa/attest'
import { PolicyError } from './errors.ts'
import { clauseMismatch } from './match.ts'
import type { Policy } from './schema.ts'

/** The outcome of {@link evaluatePolicy}: which clause decided, and why. */
export type Decision =
  | {
      readonly allow: true
      readonly workload: string
      readonly clause: string
      readonly reasons: readonly string[]
    }
  | {
      readonly allow: false
      readonly workload: string
      readonly clause: string
      readonly reasons: readonly string[]
    }

/**
 * Decide whether verified claims may act as a workload of the policy. Pure: no clock, no I/O.
 * Sim evidence needs `options.allowSim` (clause `broker.allowSim`) and a matching `tee: sim`
 * clause; debug evidence needs `debug: allow` (clause `workloads[i].debug`); otherwise the first
 * matching accept clause allows (`workloads[i].accept[j]`), and when none matches the decision is
 * a denial at `workloads[i].accept` with one reason per clause (`accept[j]: <field>: <why>`). An
 * allow lists the clauses tried too, ending with `accept[j]: matches`. Reasons name measurements
 * and fields, never secrets. A denial is a value: the broker throws `ERR_POLICY_DENIED` with it.
 *
 * @example
 * const d = evaluatePolicy(policy, 'taxi-job', claims, { allowSim: false })
 * if (!d.allow) throw new PolicyError('ERR_POLICY_DENIED', `Denied at ${d.clause}`, { details: d })
 * @throws PolicyError `ERR_POLICY_UNKNOWN_WORKLOAD` when the policy has no such workload.
 */
export function evaluatePolicy(
  policy: Policy,
  workloadName: string,
  claims: Claims,
  options: { readonly allowSim: boolean },
): Decision {
  const index = policy.workloads.findIndex((w) => w.name === workloadName)
  const workload = policy.workloads[index]
  if (workload === undefined) {
    throw new PolicyError(
      'ERR_POLICY_UNKNOWN_WORKLOAD',
      `Policy ${policy.metadata.namespace}/${policy.metadata.name} has no workload ${workloadName}`,
    )
  }
  const at = `workloads[${index}]`
  const deny = (clause: string, reasons: string[]): Decision => ({
    allow: false,
    workload: workloadName,
    clause,
    reasons,
  })
  if ((claims.tee === 'sim' || claims.insecure) && !options.allowSim)
    return deny('broker.allowSim', ['the broker does not accept the insecure sim TEE'])
  if (claims.debug && workload.debug !== 'allow')
    return deny(`${at}.debug`, [
      'the evidence is from a debug TEE and the workload has debug: deny',
    ])
  const reasons: string[] = []
  for (const [i, clause] of workload.accept.entries()) {
    const why = clauseMismatch(clause, claims)
    if (why === undefined) {
      reasons.push(`accept[${i}]: matches`)
      return { allow: true, workload: workloadName, clause: `${at}.accept[${i}]`, reasons }
    }
    reasons.push(`accept[${i}]: ${why}`)
  }
  return deny(`${at}.accept`, reasons)
}
