export { type DuckDbLimits, type DuckDbSession, duckDbError, openDuckDb } from './duckdb-session.ts'
export { ENGINE_ERRORS, EngineError, type EngineErrorCode } from './errors.ts'
export { type JobContext, type JobProgress, type JobSummary, runJob } from './run-job.ts'
export { type BoundInput, composeQuery, sqlString } from './sql.ts'
export {
  type CopyProgress,
  createLocalStore,
  isUrl,
  joinLocation,
  localPath,
  type ObjectStore,
} from './storage/object-store.ts'
