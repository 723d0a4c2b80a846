export {
  applyPolicy,
  createKey,
  dryRun,
  exportAudit,
  fetchJwks,
  importSecret,
  listSecrets,
  policyHistory,
  policyVersion,
  readAudit,
  revokeOwnKey,
  whoami,
} from './admin.ts'
export {
  ATTESTATION_PATH,
  ATTESTED_JWE,
  ATTESTED_MEDIA_TYPE,
  type AttestedFetchOptions,
  type AttestedResponse,
  attestedFetch,
} from './attested-fetch.ts'
export {
  type AttestedHandlerOptions,
  type AttestedRequest,
  attestedHandler,
  type OpenAttestedRequestOptions,
  openAttestedRequest,
} from './attested-handler.ts'
export {
  type ServiceExpectation,
  type VerifiedService,
  verifyServiceToken,
} from './attested-service.ts'
export {
  checkBrokerAttestation,
  type FetchedBrokerAttestation,
  fetchBrokerAttestation,
  type VerifiedBrokerAttestation,
} from './broker-attestation.ts'
export {
  BrokerClient,
  type BrokerConnection,
  type CallAuth,
  type CallResult,
  type ClientCertificate,
  type OwnerCredentials,
} from './client.ts'
export * from './collateral/index.ts'
export {
  COLUMN_KEYS_TABLE,
  type ColumnCipher,
  type ColumnKeyRecord,
  columnKeysTableDdl,
  decryptColumnValue,
  type EncryptedTableRows,
  encryptColumnValue,
  quoteIdent,
  type ReadEncryptedTableOptions,
  readColumnKeys,
  readEncryptedTable,
  type SqlClient,
  tableNames,
  unwrapColumnKeys,
  wipeColumnCiphers,
} from './encrypted-table.ts'
export { BrokerCallError, SDK_ERRORS, SdkError, type SdkErrorCode } from './errors.ts'
export { detectEvidence, type EvidenceType, type WireEvidence } from './evidence.ts'
export { createAtomicFileSink, fileSize, openFileSource } from './files.ts'
export { createOwnerKms, createWorkloadKms } from './kms.ts'
export {
  createMemoryReplayCache,
  createRedisReplayCache,
  type RedisSetNx,
  type ReplayCache,
} from './replay-cache.ts'
export {
  connectSealedCache,
  deriveSealedCacheKeys,
  openCacheValue,
  type SealedCache,
  type SealedCacheKeys,
  type SealedCacheOptions,
  sealCacheValue,
  sealedKeyName,
} from './sealed-cache.ts'
export {
  exchangeToken,
  type ServiceToken,
  type VerifyExchangedTokenOptions,
  verifyExchangedToken,
} from './token-exchange.ts'
