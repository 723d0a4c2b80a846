import { AttestError } from '../errors.ts'
import { productFromCpuid, type SnpProduct, TCB_SIZE } from './tcb.ts'

/** Size of an SEV-SNP ATTESTATION_REPORT. */
export const SNP_REPORT_SIZE = 0x4a0
/** The signature covers bytes 0x000..0x29F. */
export const SNP_SIGNED_SIZE = 0x2a0
/** R and S of the ECDSA P-384 signature: 72 bytes each, little-endian. */
export const SNP_SIGNATURE_COMPONENT_SIZE = 72

// Field offsets (AMD SEV-SNP ABI, ATTESTATION_REPORT).
const VERSION = 0x000
const GUEST_SVN = 0x004
const POLICY = 0x008
const FAMILY_ID = 0x010
const IMAGE_ID = 0x020
const VMPL = 0x030
const SIGNATURE_ALGO = 0x034
const CURRENT_TCB = 0x038
const PLATFORM_INFO = 0x040
const SIGNER_INFO = 0x048
const RESERVED_0 = 0x04c
const REPORT_DATA = 0x050
const MEASUREMENT = 0x090
const HOST_DATA = 0x0c0
const ID_KEY_DIGEST = 0x0e0
const AUTHOR_KEY_DIGEST = 0x110
const REPORT_ID = 0x140
const REPORT_ID_MA = 0x160
const REPORTED_TCB = 0x180
const CPUID_FAM_ID = 0x188
const CPUID_MOD_ID = 0x189
const CPUID_STEP = 0x18a
const RESERVED_1 = 0x18b
const CHIP_ID = 0x1a0
const COMMITTED_TCB = 0x1e0
const CURRENT_VERSION = 0x1e8
const RESERVED_2 = 0x1eb
const COMMITTED_VERSION = 0x1ec
const RESERVED_3 = 0x1ef
const LAUNCH_TCB = 0x1f0
const LAUNCH_MIT_VECTOR = 0x1f8
const CURRENT_MIT_VECTOR = 0x200
const RESERVED_4 = 0x208
const SIGNATURE_R = 0x2a0
const SIGNATURE_S = SIGNATURE_R + SNP_SIGNATURE_COMPONENT_SIZE
const SIGNATURE_RESERVED = SIGNATURE_S + SNP_SIGNATURE_COMPONENT_SIZE

const SUPPORTED_VERSIONS: readonly number[] = [2, 3, 4, 5]
const SIGNATURE_ALGO_ECDSA_P384_SHA384 = 1
const MAX_VMPL = 3

// POLICY bits.
const POLICY_SMT = 1n << 16n
const POLICY_RESERVED_ONE = 1n << 17n
const POLICY_MIGRATE_MA = 1n << 18n
const POLICY_DEBUG = 1n << 19n
const POLICY_SINGLE_SOCKET = 1n << 20n
const POLICY_MBZ = ~((1n << 26n) - 1n) & 0xffff_ffff_ffff_ffffn

// PLATFORM_INFO bits.
const PLATFORM_SMT_EN = 1n << 0n
const PLATFORM_TSME_EN = 1n << 1n
const PLATFORM_RESERVED_6 = 1n << 6n

// Signer info bits.
const SIGNER_AUTHOR_KEY_EN = 1 << 0
const SIGNER_MASK_CHIP_KEY = 1 << 1
const SIGNER_SIGNING_KEY_SHIFT = 2
const SIGNER_SIGNING_KEY_MASK = 0b111
const SIGNER_MBZ = ~0b11111 >>> 0
const SIGNING_KEYS: Readonly<Record<number, SnpReportSigner>> = { 0: 'vcek', 1: 'vlek', 7: 'none' }

/** Which key signed the report (signer info SIGNING_KEY): VCEK, VLEK, or none. */
export type SnpReportSigner = 'vcek' | 'vlek' | 'none'

/** A firmware version: major.minor, build. */
export type SnpFirmwareVersion = {
  readonly major: number
  readonly minor: number
  readonly build: number
}

/**
 * A parsed, structurally checked SEV-SNP attestation report (not yet verified). Byte fields are
 * copies; TCB values are raw 8-byte TCB_VERSIONs, decoded with `decodeSnpTcb` once the product
 * is known.
 */
export type SnpReport = {
  readonly version: number
  readonly guestSvn: number
  /** POLICY, a 64-bit value. */
  readonly policy: bigint
  readonly debug: boolean
  readonly migrationAgent: boolean
  readonly smtAllowed: boolean
  readonly singleSocket: boolean
  readonly abi: { readonly major: number; readonly minor: number }
  readonly familyId: Uint8Array
  readonly imageId: Uint8Array
  readonly vmpl: number
  readonly signatureAlgo: number
  /** PLATFORM_INFO, a 64-bit value. */
  readonly platformInfo: bigint
  readonly smtEnabled: boolean
  readonly tsmeEnabled: boolean
  readonly authorKeyEnabled: boolean
  readonly maskChipId: boolean
  readonly signingKey: SnpReportSigner
  readonly reportData: Uint8Array
  readonly measurement: Uint8Array
  readonly hostData: Uint8Array
  readonly idKeyDigest: Uint8Array
  readonly authorKeyDigest: Uint8Array
  readonly reportId: Uint8Array
  readonly reportIdMa: Uint8Array
  readonly tcb: {
    readonly reported: Uint8Array
    readonly current: Uint8Array
    readonly committed: Uint8Array
    readonly launch: Uint8Array
  }
  /** CPUID family, model and stepping: reports v3 and later. */
  readonly cpuid?: { readonly family: number; readonly model: number; readonly stepping: number }
  /** The product named by the CPUID fields (v3+), when known. */
  readonly product?: SnpProduct
  readonly chipId: Uint8Array
  readonly currentVersion: SnpFirmwareVersion
  readonly committedVersion: SnpFirmwareVersion
  /** Mitigation vectors: reports v5 and later. */
  readonly launchMitigationVector?: bigint
  readonly currentMitigationVector?: bigint
  /** Bytes 0x000..0x29F, the signed part. */
  readonly signed: Uint8Array
  /** R and S as in the report: 72 bytes each, little-endian. */
  readonly signature: { readonly r: Uint8Array; readonly s: Uint8Array }
}

function malformed(field: string, why: string): AttestError {
  return new AttestError('ERR_ATTEST_MALFORMED', `SNP report field ${field} ${why}`, {
    details: { field },
  })
}

function mustBeZero(bytes: Uint8Array, from: number, to: number, field: string): void {
  for (let i = from; i < to; i++) {
    if (bytes[i] !== 0) throw malformed(field, `(0x${i.toString(16)}) is reserved and not zero`)
  }
}

/**
 * Parse an SEV-SNP ATTESTATION_REPORT (1184 bytes; versions 2, 3, 4 and 5) and check its
 * structure: reserved fields zero, POLICY bit 17 one and bits 26..63 zero, signer-info reserved
 * bits zero, a known SIGNING_KEY, SIGNATURE_ALGO 1 (ECDSA P-384 with SHA-384), VMPL 0..3, and a
 * zero CHIP_ID when MASK_CHIP_KEY is set. Nothing is verified here.
 *
 * @example const report = parseSnpReport(bytes); report.debug
 * @throws AttestError `ERR_ATTEST_MALFORMED` naming the offending field.
 */
export function parseSnpReport(bytes: Uint8Array): SnpReport {
  if (!(bytes instanceof Uint8Array) || bytes.length !== SNP_REPORT_SIZE) {
    throw new AttestError(
      'ERR_ATTEST_MALFORMED',
      `SNP report must be ${SNP_REPORT_SIZE} bytes, got ${bytes instanceof Uint8Array ? bytes.length : typeof bytes}`,
    )
  }
  const b = bytes.slice()
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const u32 = (offset: number): number => view.getUint32(offset, true)
  const u64 = (offset: number): bigint => view.getBigUint64(offset, true)
  const field = (offset: number, size: number): Uint8Array => b.slice(offset, offset + size)

  const version = u32(VERSION)
  if (!SUPPORTED_VERSIONS.includes(version)) {
    throw malformed('VERSION', `is ${version}; supported are 2, 3, 4 and 5`)
  }
  const policy = u64(POLICY)
  if ((policy & POLICY_RESERVED_ONE) === 0n) throw malformed('POLICY', 'bit 17 must be one')
  if ((policy & POLICY_MBZ) !== 0n) throw malformed('POLICY', 'bits 26..63 must be zero')
  const vmpl = u32(VMPL)
  if (vmpl > MAX_VMPL) throw malformed('VMPL', `is ${vmpl}, not 0..3`)
  const signatureAlgo = u32(SIGNATURE_ALGO)
  if (signatureAlgo !== SIGNATURE_ALGO_ECDSA_P384_SHA384) {
    throw malformed('SIGNATURE_ALGO', `is ${signatureAlgo}, not 1 (ECDSA P-384 with SHA-384)`)
  }
  const platformInfo = u64(PLATFORM_INFO)
  if ((platformInfo & PLATFORM_RESERVED_6) !== 0n) {
    throw malformed('PLATFORM_INFO', 'bit 6 is reserved and not zero')
  }
  const signerInfo = u32(SIGNER_INFO)
  if ((signerInfo & SIGNER_MBZ) !== 0) throw malformed('SIGNER_INFO', 'bits 5..31 must be zero')
  const signingKey =
    SIGNING_KEYS[(signerInfo >>> SIGNER_SIGNING_KEY_SHIFT) & SIGNER_SIGNING_KEY_MASK]
  if (signingKey === undefined) throw malformed('SIGNER_INFO', 'SIGNING_KEY 2..6 is reserved')
  mustBeZero(b, RESERVED_0, REPORT_DATA, 'RESERVED')
  mustBeZero(b, version >= 3 ? RESERVED_1 : CPUID_FAM_ID, CHIP_ID, 'RESERVED')
  mustBeZero(b, RESERVED_2, COMMITTED_VERSION, 'RESERVED')
  mustBeZero(b, RESERVED_3, LAUNCH_TCB, 'RESERVED')
  mustBeZero(b, version >= 5 ? RESERVED_4 : LAUNCH_MIT_VECTOR, SNP_SIGNED_SIZE, 'RESERVED')
  mustBeZero(b, SIGNATURE_RESERVED, SNP_REPORT_SIZE, 'SIGNATURE')
  const maskChipId = (signerInfo & SIGNER_MASK_CHIP_KEY) !== 0
  const chipId = field(CHIP_ID, COMMITTED_TCB - CHIP_ID)
  if (maskChipId && chipId.some((x) => x !== 0)) {
    throw malformed('CHIP_ID', 'is not zero although MASK_CHIP_KEY is set')
  }

  const cpuid =
    version >= 3
      ? {
          family: b[CPUID_FAM_ID] as number,
          model: b[CPUID_MOD_ID] as number,
          stepping: b[CPUID_STEP] as number,
        }
      : undefined
  const product = cpuid === undefined ? undefined : productFromCpuid(cpuid.family, cpuid.model)
  const firmware = (offset: number): SnpFirmwareVersion => ({
    build: b[offset] as number,
    minor: b[offset + 1] as number,
    major: b[offset + 2] as number,
  })
  return {
    version,
    guestSvn: u32(GUEST_SVN),
    policy,
    debug: (policy & POLICY_DEBUG) !== 0n,
    migrationAgent: (policy & POLICY_MIGRATE_MA) !== 0n,
    smtAllowed: (policy & POLICY_SMT) !== 0n,
    singleSocket: (policy & POLICY_SINGLE_SOCKET) !== 0n,
    abi: { major: Number((policy >> 8n) & 0xffn), minor: Number(policy & 0xffn) },
    familyId: field(FAMILY_ID, IMAGE_ID - FAMILY_ID),
    imageId: field(IMAGE_ID, VMPL - IMAGE_ID),
    vmpl,
    signatureAlgo,
    platformInfo,
    smtEnabled: (platformInfo & PLATFORM_SMT_EN) !== 0n,
    tsmeEnabled: (platformInfo & PLATFORM_TSME_EN) !== 0n,
    authorKeyEnabled: (signerInfo & SIGNER_AUTHOR_KEY_EN) !== 0,
    maskChipId,
    signingKey,
    reportData: field(REPORT_DATA, MEASUREMENT - REPORT_DATA),
    measurement: field(MEASUREMENT, HOST_DATA - MEASUREMENT),
    hostData: field(HOST_DATA, ID_KEY_DIGEST - HOST_DATA),
    idKeyDigest: field(ID_KEY_DIGEST, AUTHOR_KEY_DIGEST - ID_KEY_DIGEST),
    authorKeyDigest: field(AUTHOR_KEY_DIGEST, REPORT_ID - AUTHOR_KEY_DIGEST),
    reportId: field(REPORT_ID, REPORT_ID_MA - REPORT_ID),
    reportIdMa: field(REPORT_ID_MA, REPORTED_TCB - REPORT_ID_MA),
    tcb: {
      reported: field(REPORTED_TCB, TCB_SIZE),
      current: field(CURRENT_TCB, TCB_SIZE),
      committed: field(COMMITTED_TCB, TCB_SIZE),
      launch: field(LAUNCH_TCB, TCB_SIZE),
    },
    ...(cpuid === undefined ? {} : { cpuid }),
    ...(product === undefined ? {} : { product }),
    chipId,
    currentVersion: firmware(CURRENT_VERSION),
    committedVersion: firmware(COMMITTED_VERSION),
    ...(version >= 5
      ? {
          launchMitigationVector: u64(LAUNCH_MIT_VECTOR),
          currentMitigationVector: u64(CURRENT_MIT_VECTOR),
        }
      : {}),
    signed: b.slice(0, SNP_SIGNED_SIZE),
    signature: {
      r: field(SIGNATURE_R, SNP_SIGNATURE_COMPONENT_SIZE),
      s: field(SIGNATURE_S, SNP_SIGNATURE_COMPONENT_SIZE),
    },
  }
}
