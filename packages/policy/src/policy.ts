import { createHash } from 'node:crypto'
import { canonicalJson } from '@subrosa/core'
import { parseYaml, validate } from './document.ts'
import { type Policy, policySchema, type Workload } from './schema.ts'

/**
 * Parse and validate a policy document (YAML). Hex is normalized to lower case and defaults are
 * filled in, so equal policies hash equally however they are written.
 *
 * @example parsePolicy(readFileSync('policy.yaml', 'utf8')).workloads[0].name
 * @throws PolicyError `ERR_POLICY_YAML` (with line and column) or `ERR_POLICY_INVALID` (with the
 * path of every violation in `details.errors`).
 */
export function parsePolicy(yamlText: string): Policy {
  return validatePolicy(parseYaml(yamlText, 'ERR_POLICY_YAML', 'policy'))
}

/** Validate an already-parsed policy document. @throws PolicyError `ERR_POLICY_INVALID`. */
export function validatePolicy(doc: unknown): Policy {
  return validate(policySchema, doc, 'ERR_POLICY_INVALID', 'policy')
}

/** `sha384:<hex>` over the canonical JSON (RFC 8785) of the normalized policy. */
export function policyHash(policy: Policy): string {
  return `sha384:${createHash('sha384').update(canonicalJson(policy)).digest('hex')}`
}

const LABEL = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?'
const WORKLOAD_REF = new RegExp(`^(${LABEL})/(${LABEL})/(${LABEL})$`)
const KEY_GRANT = new RegExp(`^(${LABEL})/(${LABEL}):(wrap|unwrap)$`)

/** Split `<namespace>/<policy>/<workload>`; undefined when malformed. */
export function parsePolicyRef(
  ref: string,
): { namespace: string; policy: string; workload: string } | undefined {
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

/** Split a key grant; undefined when malformed. */
export function parseKeyGrant(grant: string): KeyGrant | undefined {
  const m = KEY_GRANT.exec(grant)
  return m === null
    ? undefined
    : { namespace: m[1] as string, key: m[2] as string, operation: m[3] as 'wrap' | 'unwrap' }
}

/** Whether the workload may `operation` with master key `<namespace>/<key>`. */
export function workloadKeyAllowed(
  workload: Workload,
  namespace: string,
  key: string,
  operation: 'wrap' | 'unwrap',
): boolean {
  return workload.keys.includes(`${namespace}/${key}:${operation}`)
}
