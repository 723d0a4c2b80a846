export {
  applyPolicy,
  createKey,
  dryRun,
  fetchJwks,
  importSecret,
  listSecrets,
  readAudit,
  whoami,
} from './admin.ts'
export {
  BrokerClient,
  type BrokerConnection,
  type CallAuth,
  type CallResult,
  type OwnerCredentials,
} from './client.ts'
export * from './collateral/index.ts'
export { BrokerCallError, SDK_ERRORS, SdkError, type SdkErrorCode } from './errors.ts'
export { detectEvidence, type EvidenceType, type WireEvidence } from './evidence.ts'
export { createAtomicFileSink, fileSize, openFileSource } from './files.ts'
export { createOwnerKms, createWorkloadKms } from './kms.ts'
