export { type ClaimRule, TCB_STATUSES } from './accept.ts'
export { type AppraisalReport, appraiseEvidence } from './appraise.ts'
export { formatPath, MAX_DOCUMENT_BYTES } from './document.ts'
export { POLICY_ERRORS, PolicyError, type PolicyErrorCode } from './errors.ts'
export { type Decision, evaluatePolicy } from './evaluate.ts'
export { type Job, jobSchema, parseJob, validateJob } from './job.ts'
export {
  type KeyGrant,
  type PolicyRef,
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
  INJECT_ROOT,
  type Policy,
  policySchema,
  type SecretSpec,
  type Workload,
} from './schema.ts'
export {
  parseTemplate,
  renderTemplate,
  type SecretEncoding,
  type TemplatePart,
  templateProblem,
  templateSecretNames,
} from './templates.ts'
