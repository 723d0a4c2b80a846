export { buildBrokerApp } from './app.ts'
export { verifyAuditChain } from './audit.ts'
export {
  type CaMaterial,
  createCa,
  issueServerCertificate,
  issueWorkloadCertificate,
  type ServerCredentials,
  type WorkloadCertificate,
} from './ca.ts'
export type { BrokerContext, LogEvent } from './context.ts'
export {
  BROKER_ERRORS,
  BrokerError,
  type BrokerErrorCode,
  HTTP_STATUS,
  statusOf,
} from './errors.ts'
export { createLogger, REDACTED, redactLogEvent, requestIdOf } from './logging.ts'
export { BrokerMetrics, METRICS_CONTENT_TYPE } from './metrics.ts'
export { openApiDocument, ROUTES } from './openapi.ts'
export { parseRateLimit, type RateLimit, RateLimiter } from './rate-limit.ts'
export {
  type RecoveryOptions,
  readRecoveryMetadata,
  recoverBroker,
  recoverRootKey,
} from './recovery.ts'
export {
  brokerIdOf,
  encodeRecoveryShare,
  parseRecoveryShare,
  RECOVERY_SHARE_FORMAT,
  type RecoveryShare,
  type RecoveryShareFile,
} from './recovery-share.ts'
export { type RekeyOptions, rekeyBroker, rekeyRootKey } from './rekey.ts'
export type { ShutdownOptions } from './shutdown.ts'
export { BROKER_BUILD, type RunningBroker, type StartBrokerOptions, startBroker } from './start.ts'
export { openPostgresStore, type PostgresStoreOptions } from './store/postgres.ts'
export { type Db, openPgliteStore, type Store } from './store/store.ts'
