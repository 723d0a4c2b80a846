import { BaseError } from '@subrosa/core'

/** Codes of `policy`, each with the one-line meaning published in docs/errors.md. */
export const POLICY_ERRORS = {
  ERR_POLICY_YAML:
    'A policy document is not parseable YAML (or too large, or uses aliases excessively).',
  ERR_POLICY_INVALID:
    'A policy document violates the schema; details list each violation with its path.',
  ERR_POLICY_DENIED: 'Attestation was denied by the policy; details name the deciding clause.',
  ERR_POLICY_UNKNOWN_WORKLOAD: 'The policy has no workload of that name.',
  ERR_POLICY_TEMPLATE: 'A secret template is malformed or names an unknown secret.',
  ERR_POLICY_SCONE_INVALID: 'A SCONE session is not of the shape the converter reads.',
  ERR_POLICY_SCONE_UNSUPPORTED:
    'A SCONE session uses constructs Subrosa cannot express; details.unsupported lists them.',
  ERR_JOB_YAML: 'A job document is not parseable YAML.',
  ERR_JOB_INVALID: 'A job document violates the schema; details list each violation with its path.',
} as const

export type PolicyErrorCode = keyof typeof POLICY_ERRORS

/**
 * The error of `@subrosa/policy`: a stable `code`, a message that names the path or clause and
 * never a secret, and `details` (`path`/`errors` for documents, `line`/`column` for YAML).
 */
export class PolicyError extends BaseError<PolicyErrorCode> {}
