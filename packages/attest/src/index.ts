export type {
  Claims,
  ClaimsSource,
  SgxClaims,
  SimClaims,
  SnpClaims,
  SnpTcb,
  TcbStatus,
  TdxClaims,
  TeeType,
} from './claims.ts'
export * from './dcap/index.ts'
export { ATTEST_ERRORS, AttestError, type AttestErrorCode } from './errors.ts'
export { primaryMeasurement } from './measurement.ts'
export { type BundleFile, measureBundle } from './sim/measure-bundle.ts'
export {
  createSimEvidence,
  generateSimPlatformKey,
  SIM_EVIDENCE_TYPE,
  type SimPlatformKey,
  type SimStatement,
  type VerifySimOptions,
  verifySimEvidence,
} from './sim/sim-evidence.ts'
export * from './snp/index.ts'
export * from './token/index.ts'
export {
  type AmdVekRequest,
  type DcapCollateralSource,
  type EvidenceVerdict,
  type VerifyEvidenceOptions,
  verifyEvidence,
} from './verify-evidence.ts'
export * from './x509/index.ts'
