export { type ClaimRule, TCB_STATUSES } from './accept.ts'
export { type AppraisalReport, appraiseEvidence } from './appraise.ts'
export { formatPath, MAX_DOCUMENT_BYTES } from './document.ts'
export { POLICY_ERRORS, PolicyError, type PolicyErrorCode } from './errors.ts'
export { type Decision, evaluatePolicy } from './evaluate.ts'
export {
  type Job,
  type JobInput,
  type JobOutput,
  jobInputSchema,
  jobOutputSchema,
  jobSchema,
  parseJob,
  validateJob,
} from './job.ts'
export { type DiffLine, lineDiff } from './line-diff.ts'
export { type JobFinding, lintJob, queryParameters } from './lint-job.ts'
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
  CERT_KEY_TYPES,
  type Grant,
  INJECT_ROOT,
  type Policy,
  policySchema,
  type SecretKind,
  type SecretSpec,
  secretKind,
  secretParts,
  type Workload,
} from './schema.ts'
export { convertSconeSession, type SconeConversion } from './scone/convert.ts'
export {
  parseTemplate,
  renderTemplate,
  SECRET_PARTS,
  type SecretEncoding,
  type SecretPart,
  type TemplatePart,
  type TemplateTarget,
  templateProblem,
  templateSecretNames,
} from './templates.ts'
