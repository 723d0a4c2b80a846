export {
  collateralFromDcapQvlJson,
  type DcapCollateral,
  extractSignedObject,
} from './collateral.ts'
export { type DcapCollateralRequest, dcapCollateralRequest } from './collateral-request.ts'
export { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256, intelSgxRootCa } from './intel-root.ts'
export { type PckExtensions, parsePckExtensions } from './pck-extensions.ts'
export { parseQeIdentity, type QeIdentity } from './qe-identity.ts'
export { parseQuote, type Quote, type QuoteBody, type QuoteHeader } from './quote.ts'
export type { SgxReportBody, TdReportBody } from './report-body.ts'
export { parseTcbInfo, type TcbInfo, type TcbLevel, type TdxModuleIdentity } from './tcb-info.ts'
export { computeTcbStatus, qeTcbLevel, type TcbInput, type TcbResult } from './tcb-status.ts'
export {
  type CrlMode,
  type ParsedCollateral as ParsedDcapCollateral,
  parseDcapCollateral,
} from './verify-collateral.ts'
export { type DcapVerdict, type VerifyDcapOptions, verifyDcapQuote } from './verify-quote.ts'
