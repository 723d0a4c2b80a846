// The fixed-layout report bodies inside a quote: SGX enclave report (also the QE report) and
// TD report 1.0 / 1.5. Offsets from Intel's quote library spec (all little-endian).
import { AttestError } from '../errors.ts'

/** SGX enclave report body (384 bytes); the QE report has the same layout. */
export type SgxReportBody = {
  readonly bytes: Uint8Array
  readonly cpuSvn: Uint8Array
  readonly miscSelect: number
  readonly isvExtProdId: Uint8Array
  /** ATTRIBUTES: flags u64 then XFRM u64 (16 bytes). */
  readonly attributes: Uint8Array
  readonly mrEnclave: Uint8Array
  readonly mrSigner: Uint8Array
  readonly configId: Uint8Array
  readonly isvProdId: number
  readonly isvSvn: number
  readonly configSvn: number
  readonly isvFamilyId: Uint8Array
  readonly reportData: Uint8Array
}

/** TD report body 1.0 (584 bytes) or 1.5 (648 bytes, with TEE_TCB_SVN2 and MRSERVICETD). */
export type TdReportBody = {
  readonly bytes: Uint8Array
  readonly teeTcbSvn: Uint8Array
  readonly mrSeam: Uint8Array
  readonly mrSignerSeam: Uint8Array
  readonly seamAttributes: Uint8Array
  readonly tdAttributes: Uint8Array
  readonly xfam: Uint8Array
  readonly mrTd: Uint8Array
  readonly mrConfigId: Uint8Array
  readonly mrOwner: Uint8Array
  readonly mrOwnerConfig: Uint8Array
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
  readonly reportData: Uint8Array
  readonly teeTcbSvn2?: Uint8Array
  readonly mrServiceTd?: Uint8Array
}

export const SGX_REPORT_SIZE = 384
export const TD10_REPORT_SIZE = 584
export const TD15_REPORT_SIZE = 648

const SGX = {
  cpuSvn: 0,
  miscSelect: 16,
  isvExtProdId: 32,
  attributes: 48,
  mrEnclave: 64,
  mrSigner: 128,
  configId: 192,
  isvProdId: 256,
  isvSvn: 258,
  configSvn: 260,
  isvFamilyId: 304,
  reportData: 320,
} as const

const TD = {
  teeTcbSvn: 0,
  mrSeam: 16,
  mrSignerSeam: 64,
  seamAttributes: 112,
  tdAttributes: 120,
  xfam: 128,
  mrTd: 136,
  mrConfigId: 184,
  mrOwner: 232,
  mrOwnerConfig: 280,
  rtmr0: 328,
  reportData: 520,
  teeTcbSvn2: 584,
  mrServiceTd: 600,
} as const

const MR48 = 48

function checkLength(bytes: Uint8Array, expected: number, what: string): void {
  if (bytes.length !== expected) {
    throw new AttestError('ERR_ATTEST_MALFORMED', `Cannot parse ${what}: wrong length`, {
      details: { field: what, length: bytes.length, expected },
    })
  }
}

/** Parses a 384-byte SGX report body (enclave or QE report). */
export function parseSgxReportBody(bytes: Uint8Array, what = 'SGX report body'): SgxReportBody {
  checkLength(bytes, SGX_REPORT_SIZE, what)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const at = (offset: number, size: number) => bytes.subarray(offset, offset + size)
  return {
    bytes,
    cpuSvn: at(SGX.cpuSvn, 16),
    miscSelect: view.getUint32(SGX.miscSelect, true),
    isvExtProdId: at(SGX.isvExtProdId, 16),
    attributes: at(SGX.attributes, 16),
    mrEnclave: at(SGX.mrEnclave, 32),
    mrSigner: at(SGX.mrSigner, 32),
    configId: at(SGX.configId, 64),
    isvProdId: view.getUint16(SGX.isvProdId, true),
    isvSvn: view.getUint16(SGX.isvSvn, true),
    configSvn: view.getUint16(SGX.configSvn, true),
    isvFamilyId: at(SGX.isvFamilyId, 16),
    reportData: at(SGX.reportData, 64),
  }
}

/** Parses a TD report body: 584 bytes (TD 1.0) or 648 bytes (TD 1.5). */
export function parseTdReportBody(bytes: Uint8Array, version: '1.0' | '1.5'): TdReportBody {
  checkLength(
    bytes,
    version === '1.0' ? TD10_REPORT_SIZE : TD15_REPORT_SIZE,
    `TD report ${version}`,
  )
  const at = (offset: number, size: number) => bytes.subarray(offset, offset + size)
  const rtmr = (i: number) => at(TD.rtmr0 + i * MR48, MR48)
  const body: TdReportBody = {
    bytes,
    teeTcbSvn: at(TD.teeTcbSvn, 16),
    mrSeam: at(TD.mrSeam, MR48),
    mrSignerSeam: at(TD.mrSignerSeam, MR48),
    seamAttributes: at(TD.seamAttributes, 8),
    tdAttributes: at(TD.tdAttributes, 8),
    xfam: at(TD.xfam, 8),
    mrTd: at(TD.mrTd, MR48),
    mrConfigId: at(TD.mrConfigId, MR48),
    mrOwner: at(TD.mrOwner, MR48),
    mrOwnerConfig: at(TD.mrOwnerConfig, MR48),
    rtmrs: [rtmr(0), rtmr(1), rtmr(2), rtmr(3)],
    reportData: at(TD.reportData, 64),
  }
  if (version === '1.0') return body
  return { ...body, teeTcbSvn2: at(TD.teeTcbSvn2, 16), mrServiceTd: at(TD.mrServiceTd, MR48) }
}
