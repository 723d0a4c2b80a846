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
export { BROKER_BUILD, type RunningBroker, type StartBrokerOptions, startBroker } from './start.ts'
export { openPostgresStore, type PostgresStoreOptions } from './store/postgres.ts'
export { type Db, openPgliteStore, type Store } from './store/store.ts'
