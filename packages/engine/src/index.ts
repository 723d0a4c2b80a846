export type {
  BoundQuery,
  DecryptMode,
  EngineContext,
  InputSummary,
  JobContext,
  JobProgress,
  OpenedInput,
  OpenInput,
  OutputSummary,
  WriteOutput,
} from './adapters.ts'
export { checkJob, type JobCheck } from './check-job.ts'
export { fieldsToRead, type ReferencedColumns, referencedColumns } from './columns.ts'
export {
  type DeltaAction,
  type DeltaAdd,
  type DeltaMetadata,
  type DeltaProtocol,
  parseCommit,
} from './delta/actions.ts'
export { readCheckpointFiles } from './delta/checkpoint.ts'
export {
  type DeltaField,
  type DeltaStruct,
  type DeltaType,
  parseSchemaString,
} from './delta/schema.ts'
export {
  type CheckpointReader,
  type DeltaSnapshot,
  listLog,
  readSnapshot,
} from './delta/snapshot.ts'
export { type DuckDbLimits, type DuckDbSession, duckDbError, openDuckDb } from './duckdb-session.ts'
export { ENGINE_ERRORS, EngineError, type EngineErrorCode } from './errors.ts'
export { fetchInput } from './inputs/fetch.ts'
export {
  type OpenedParquetFile,
  openParquetFile,
  type ParquetFileOptions,
  readKeyMaterialSidecar,
} from './inputs/parquet.ts'
export { encryptParquetOutput } from './outputs/parquet.ts'
export { type OutputSink, openOutputSink } from './outputs/sink.ts'
export { resolveParameters } from './parameters.ts'
export {
  type CopyFormat,
  copyQuery,
  type ResultColumn,
  runQuery,
  streamQuery,
} from './query.ts'
export { type JobSummary, runJob } from './run-job.ts'
export { type BoundInput, composeQuery, sqlString } from './sql.ts'
export {
  type AzureStoreOptions,
  type AzureTransferOptions,
  createAzureStore,
} from './storage/azure.ts'
export {
  type AzureAccountAuth,
  type AzureCredentials,
  azureAuthFor,
  azureCredentialsFromEnv,
} from './storage/azure-credentials.ts'
export { type AzureLocation, parseAzureLocation, redactLocation } from './storage/azure-location.ts'
export {
  type CopyProgress,
  createLocalStore,
  isUrl,
  joinLocation,
  localPath,
  type ObjectStore,
} from './storage/object-store.ts'
export {
  createStoreResolver,
  type StoreResolver,
  type StoreResolverOptions,
} from './storage/resolve.ts'
