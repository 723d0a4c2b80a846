export { buildBrokerApp } from './app.ts'
export { verifyAuditChain } from './audit.ts'
export type { BrokerContext, LogEvent } from './context.ts'
export {
  BROKER_ERRORS,
  BrokerError,
  type BrokerErrorCode,
  HTTP_STATUS,
  statusOf,
} from './errors.ts'
export {
  brokerIdOf,
  encodeRecoveryShare,
  parseRecoveryShare,
  RECOVERY_SHARE_FORMAT,
  type RecoveryOptions,
  type RecoveryShare,
  type RecoveryShareFile,
  type RekeyOptions,
  readRecoveryMetadata,
  recoverBroker,
  recoverRootKey,
  rekeyBroker,
  rekeyRootKey,
} from './recovery.ts'
export { BROKER_BUILD, type RunningBroker, type StartBrokerOptions, startBroker } from './start.ts'
