export { AMD_ROOTS, type SnpRootSet, type SnpRoots } from './amd-roots.ts'
export {
  parseSnpReport,
  SNP_REPORT_SIZE,
  type SnpFirmwareVersion,
  type SnpReport,
  type SnpReportSigner,
} from './report.ts'
export { verifySnpReportSignature } from './signature.ts'
export {
  decodeSnpTcb,
  encodeSnpTcb,
  productFromCpuid,
  productFromName,
  SNP_PRODUCTS,
  type SnpProduct,
  snpTcbAtLeast,
  snpTcbComponents,
} from './tcb.ts'
export { decodeVekExtensions, VEK_OIDS, type VekExtensions } from './vek-extensions.ts'
export { type SnpVerdict, type VerifySnpOptions, verifySnpReport } from './verify-report.ts'
