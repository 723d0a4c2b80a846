import { toHex } from '@subrosa/core'
import type { SnpClaims } from '../claims.ts'
import type { SnpReport } from './report.ts'
import { decodeSnpTcb, type SnpProduct } from './tcb.ts'

/** A 64-bit field as 16 lower-case hex digits. */
function hex64(value: bigint): string {
  return value.toString(16).padStart(16, '0')
}

/**
 * Normalized claims of a report whose signature, chain and TCB binding were verified. The
 * platform identity is CHIP_ID; it is left out when CHIP_ID is zero (masked, or a VLEK), since
 * zero identifies no platform.
 */
export function snpClaimsOf(
  report: SnpReport,
  product: SnpProduct,
  signingKey: 'vcek' | 'vlek',
): SnpClaims {
  const chipId = toHex(report.chipId)
  const zeroChipId = report.chipId.every((x) => x === 0)
  return {
    tee: 'snp',
    insecure: false,
    debug: report.debug,
    reportData: toHex(report.reportData),
    ...(zeroChipId ? {} : { platformId: chipId }),
    source: { kind: 'evidence' },
    measurement: toHex(report.measurement),
    hostData: toHex(report.hostData),
    idKeyDigest: toHex(report.idKeyDigest),
    authorKeyDigest: toHex(report.authorKeyDigest),
    familyId: toHex(report.familyId),
    imageId: toHex(report.imageId),
    reportId: toHex(report.reportId),
    reportIdMa: toHex(report.reportIdMa),
    guestSvn: report.guestSvn,
    policy: hex64(report.policy),
    migrationAgent: report.migrationAgent,
    smtAllowed: report.smtAllowed,
    vmpl: report.vmpl,
    chipId,
    product,
    signingKey,
    reportedTcb: decodeSnpTcb(report.tcb.reported, product),
    currentTcb: decodeSnpTcb(report.tcb.current, product),
    committedTcb: decodeSnpTcb(report.tcb.committed, product),
    launchTcb: decodeSnpTcb(report.tcb.launch, product),
    platformInfo: hex64(report.platformInfo),
    smtEnabled: report.smtEnabled,
    reportVersion: report.version,
  }
}
