export { type ClaimRule, TCB_STATUSES } from './accept.ts'
export { formatPath } from './document.ts'
export { POLICY_ERRORS, PolicyError, type PolicyErrorCode } from './errors.ts'
export { type Decision, evaluatePolicy } from './evaluate.ts'
export { type Job, jobSchema, parseJob, validateJob } from './job.ts'
export {
  type KeyGrant,
  parseKeyGrant,
  parsePolicy,
  parsePolicyRef,
  policyHash,
  validatePolicy,
  workloadKeyAllowed,
} from './policy.ts'
export {
  type AcceptClause,
  type Grant,
  type Policy,
  policySchema,
  type SecretSpec,
  type Workload,
} from './schema.ts'
export {
  parseTemplate,
  renderTemplate,
  type SecretEncoding,
  templateProblem,
  templateSecretNames,
} from './templates.ts'
