import type {
  Claims,
  ClaimsSource,
  SgxClaims,
  SnpClaims,
  SnpTcb,
  TcbStatus,
  TdxClaims,
} from '../claims.ts'
import { AttestError } from '../errors.ts'
import { type ClaimReader, claimError, claimReader, optional } from './claim-reader.ts'

const U8 = 0xff
const U16 = 0xffff
const U32 = 0xffffffff

const TCB_STATUSES: readonly TcbStatus[] = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'TDRelaunchAdvised',
  'TDRelaunchAdvisedConfigurationNeeded',
  'Revoked',
]

/** Parse an Intel TCB status claim; an unknown status fails closed. */
export function tcbStatusOf(reader: ClaimReader, name: string): TcbStatus | undefined {
  const value = reader.optStr(name)
  if (value === undefined) return undefined
  const status = TCB_STATUSES.find((s) => s === value)
  if (status === undefined) throw claimError(reader.path + name, 'is not a known Intel TCB status')
  return status
}

/**
 * Map the claims of a Microsoft Azure Attestation token to normalized claims.
 *
 * - `x-ms-attestation-type: sgx` -> SGX claims. MAA SGX tokens carry no TCB status (the MAA
 *   instance refuses quotes below its TCB baseline instead), so `tcbStatus` stays undefined: a
 *   policy that requires one fails closed; pin `x-ms-policy-hash` through `raw` instead.
 * - `sevsnpvm` (top level), or `azurevm` with `x-ms-isolation-tee` of type `sevsnpvm` -> SEV-SNP.
 * - `tdxvm` (top level or as the isolation TEE) -> TDX, from the `tdx_*` claims of Azure's TDX
 *   EAT profile, with `attester_tcb_status` as the TCB status.
 *
 * Only the current `x-ms-*` names are read; the deprecated duplicates are ignored.
 *
 * @throws AttestError `ERR_ATTEST_TOKEN` for a missing or ill-typed claim,
 * `ERR_ATTEST_UNSUPPORTED_TEE` for other attestation types (TPM, VBS, ...).
 */
export function claimsFromMaa(payload: unknown, source: ClaimsSource): Claims {
  const token = claimReader(payload)
  const type = token.str('x-ms-attestation-type')
  if (type === 'sgx') return sgxClaims(token, source)
  if (type === 'sevsnpvm') return snpClaims(token, source)
  if (type === 'tdxvm') return tdxClaims(token, source)
  if (type === 'azurevm') {
    const tee = token.obj('x-ms-isolation-tee')
    const teeType = tee.str('x-ms-attestation-type')
    if (teeType === 'sevsnpvm') return snpClaims(tee, source)
    if (teeType === 'tdxvm') return tdxClaims(tee, source)
    throw unsupported(`azurevm/${teeType}`)
  }
  throw unsupported(type)
}

function unsupported(type: string): AttestError {
  return new AttestError(
    'ERR_ATTEST_UNSUPPORTED_TEE',
    `Token attestation type ${JSON.stringify(type.slice(0, 40))} has no claim mapping`,
  )
}

function sgxClaims(t: ClaimReader, source: ClaimsSource): SgxClaims {
  return {
    tee: 'sgx',
    insecure: false,
    debug: t.bool('x-ms-sgx-is-debuggable'),
    mrenclave: t.hex('x-ms-sgx-mrenclave', 32),
    mrsigner: t.hex('x-ms-sgx-mrsigner', 32),
    isvProdId: t.uint('x-ms-sgx-product-id', U16),
    isvSvn: t.uint('x-ms-sgx-svn', U16),
    // Without x-ms-sgx-report-data (only x-ms-sgx-ehd), report data stays unknown.
    ...optional('reportData', t.optHex('x-ms-sgx-report-data', 64)),
    ...optional('configId', t.optHex('x-ms-sgx-config-id', 64)),
    ...optional('configSvn', t.optUint('x-ms-sgx-config-svn', U16)),
    ...optional('isvExtProdId', t.optHex('x-ms-sgx-isv-extended-product-id', 16)),
    ...optional('isvFamilyId', t.optHex('x-ms-sgx-isv-family-id', 16)),
    source,
  }
}

function snpClaims(t: ClaimReader, source: ClaimsSource): SnpClaims {
  const p = 'x-ms-sevsnpvm-'
  const tcb = [
    t.optUint(`${p}bootloader-svn`, U8),
    t.optUint(`${p}tee-svn`, U8),
    t.optUint(`${p}snpfw-svn`, U8),
    t.optUint(`${p}microcode-svn`, U8),
  ] as const
  const [bootloader, tee, snp, microcode] = tcb
  const reportedTcb: SnpTcb | undefined =
    bootloader === undefined || tee === undefined || snp === undefined || microcode === undefined
      ? undefined
      : { bootloader, tee, snp, microcode }
  return {
    tee: 'snp',
    insecure: false,
    debug: t.bool(`${p}is-debuggable`),
    measurement: t.hex(`${p}launchmeasurement`, 48),
    guestSvn: t.uint(`${p}guestsvn`, U32),
    vmpl: t.uint(`${p}vmpl`, 3),
    ...optional('reportData', t.optHex(`${p}reportdata`, 64)),
    ...optional('hostData', t.optHex(`${p}hostdata`, 32)),
    ...optional('idKeyDigest', t.optHex(`${p}idkeydigest`, 48)),
    ...optional('authorKeyDigest', t.optHex(`${p}authorkeydigest`, 48)),
    ...optional('familyId', t.optHex(`${p}familyId`, 16)),
    ...optional('imageId', t.optHex(`${p}imageId`, 16)),
    ...optional('reportId', t.optHex(`${p}reportid`, 32)),
    ...optional('migrationAgent', t.optBool(`${p}migration-allowed`)),
    ...optional('smtAllowed', t.optBool(`${p}smt-allowed`)),
    ...optional('reportedTcb', reportedTcb),
    source,
  }
}

function tdxClaims(t: ClaimReader, source: ClaimsSource): TdxClaims {
  const tdAttributes = t.hex('tdx_td_attributes', 8)
  const debug = t.bool('tdx_td_attributes_debug')
  // TDATTRIBUTES.DEBUG is bit 0 of byte 0; the decoded claim must agree with the raw one.
  if (((Number.parseInt(tdAttributes.slice(0, 2), 16) & 1) === 1) !== debug) {
    throw claimError(`${t.path}tdx_td_attributes_debug`, 'contradicts tdx_td_attributes')
  }
  return {
    tee: 'tdx',
    insecure: false,
    debug,
    mrtd: t.hex('tdx_mrtd', 48),
    rtmr0: t.hex('tdx_rtmr0', 48),
    rtmr1: t.hex('tdx_rtmr1', 48),
    rtmr2: t.hex('tdx_rtmr2', 48),
    rtmr3: t.hex('tdx_rtmr3', 48),
    mrconfigid: t.hex('tdx_mrconfigid', 48),
    mrowner: t.hex('tdx_mrowner', 48),
    mrownerconfig: t.hex('tdx_mrownerconfig', 48),
    mrseam: t.hex('tdx_mrseam', 48),
    mrsignerseam: t.hex('tdx_mrsignerseam', 48),
    teeTcbSvn: t.hex('tdx_tee_tcb_svn', 16),
    tdAttributes,
    xfam: t.hex('tdx_xfam', 8),
    seamAttributes: t.hex('tdx_seam_attributes', 8),
    ...optional('reportData', t.optHex('tdx_report_data', 64)),
    ...optional('tcbStatus', tcbStatusOf(t, 'attester_tcb_status')),
    source,
  }
}
