import { createHash } from 'node:crypto'
import { canonicalJson } from '@subrosa/core'
import { parseYaml, validate } from './document.ts'
import { type Policy, policySchema, type Workload } from './schema.ts'

/**
 * Parse and validate a policy document (YAML 1.2, at most 1 MiB). Hex is normalized to lower case,
 * single values to lists and defaults are filled in, so equal policies hash equally however they
 * are written.
 *
 * @example
 * const policy = parsePolicy(yamlText) // the caller reads the file
 * policy.workloads[0]?.accept[0] // { tee: 'sim', measurement: ['17df…'] }
 * @throws PolicyError `ERR_POLICY_YAML` (`details.line`, `details.column` when known: syntax,
 * duplicate keys, tags, `%YAML 1.1`, size, alias bombs) or `ERR_POLICY_INVALID` (`details.errors`:
 * one `path: reason` per violation, e.g. `workloads[0].accept[0].measurement: must be 96 hex
 * characters`; `details.path`: the first path).
 */
export function parsePolicy(yamlText: string): Policy {
  return validatePolicy(parseYaml(yamlText, 'ERR_POLICY_YAML', 'policy'))
}

/**
 * Validate an already-parsed policy document (e.g. JSON from the admin API), as {@link parsePolicy}.
 *
 * @example validatePolicy(JSON.parse(body)).metadata.name
 * @throws PolicyError `ERR_POLICY_INVALID` with `details.errors` and `details.path`.
 */
export function validatePolicy(doc: unknown): Policy {
  return validate(policySchema, doc, 'ERR_POLICY_INVALID', 'policy')
}

/**
 * `sha384:<96 hex>` over the canonical JSON (RFC 8785) of the normalized policy: comments, YAML
 * style, key order, hex case and omitted defaults do not change it; any accepted value does. The
 * next version of a policy names it as `metadata.predecessor`.
 *
 * @example policyHash(parsePolicy(yamlText)) // 'sha384:5b1e…'
 */
export function policyHash(policy: Policy): string {
  return `sha384:${createHash('sha384').update(canonicalJson(policy)).digest('hex')}`
}

const LABEL = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?'
const WORKLOAD_REF = new RegExp(`^(${LABEL})/(${LABEL})/(${LABEL})$`)
const KEY_GRANT = new RegExp(`^(${LABEL})/(${LABEL}):(wrap|unwrap)$`)

/** A workload reference, `<namespace>/<policy>/<workload>`, as parts. */
export type PolicyRef = {
  readonly namespace: string
  readonly policy: string
  readonly workload: string
}

/**
 * Split `<namespace>/<policy>/<workload>` (as a job's `policy` field); undefined when malformed.
 *
 * @example parsePolicyRef('acme/taxi-analytics/taxi-job') // { namespace: 'acme', policy: 'taxi-analytics', workload: 'taxi-job' }
 */
export function parsePolicyRef(ref: string): PolicyRef | undefined {
  const m = WORKLOAD_REF.exec(ref)
  return m === null
    ? undefined
    : { namespace: m[1] as string, policy: m[2] as string, workload: m[3] as string }
}

/** A key grant of a workload, `<namespace>/<key>:wrap|unwrap`, as parts. */
export type KeyGrant = {
  readonly namespace: string
  readonly key: string
  readonly operation: 'wrap' | 'unwrap'
}

/**
 * Split a workload key grant `<namespace>/<key>:wrap|unwrap`; undefined when malformed.
 *
 * @example parseKeyGrant('acme/taxi:unwrap') // { namespace: 'acme', key: 'taxi', operation: 'unwrap' }
 */
export function parseKeyGrant(grant: string): KeyGrant | undefined {
  const m = KEY_GRANT.exec(grant)
  return m === null
    ? undefined
    : { namespace: m[1] as string, key: m[2] as string, operation: m[3] as 'wrap' | 'unwrap' }
}

/**
 * Whether the workload's `keys` grant `operation` on master key `<namespace>/<key>` (exact match:
 * `unwrap` does not imply `wrap`).
 *
 * @example workloadKeyAllowed(workload, 'acme', 'taxi', 'unwrap') // true for the example policy
 */
export function workloadKeyAllowed(
  workload: Workload,
  namespace: string,
  key: string,
  operation: 'wrap' | 'unwrap',
): boolean {
  return workload.keys.includes(`${namespace}/${key}:${operation}`)
}
