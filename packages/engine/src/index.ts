export { type DuckDbLimits, type DuckDbSession, duckDbError, openDuckDb } from './duckdb-session.ts'
export { ENGINE_ERRORS, EngineError, type EngineErrorCode } from './errors.ts'
export { type JobContext, type JobProgress, type JobSummary, localPath, runJob } from './run-job.ts'
export { type BoundInput, composeQuery, sqlString } from './sql.ts'
