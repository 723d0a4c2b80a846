import type { Claims } from './claims.ts'

/**
 * The measurement that identifies the workload's code, for logs and audit entries: the sim bundle
 * hash, SGX MRENCLAVE, TDX MRTD or SEV-SNP launch measurement.
 */
export function primaryMeasurement(claims: Claims): string {
  switch (claims.tee) {
    case 'sgx':
      return claims.mrenclave
    case 'tdx':
      return claims.mrtd
    default:
      return claims.measurement
  }
}
