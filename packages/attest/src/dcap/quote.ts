// DCAP ECDSA quotes v3 (SGX), v4 (SGX, TD 1.0) and v5 (SGX, TD 1.0, TD 1.5): strict parsing by
// declared lengths, keeping the exact signed range (header ‖ body).
import { fromUtf8 } from '@subrosa/core'
import { AttestError } from '../errors.ts'
import {
  parseSgxReportBody,
  parseTdReportBody,
  SGX_REPORT_SIZE,
  type SgxReportBody,
  TD10_REPORT_SIZE,
  TD15_REPORT_SIZE,
  type TdReportBody,
} from './report-body.ts'

export type QuoteHeader = {
  readonly version: 3 | 4 | 5
  readonly attestationKeyType: number
  readonly teeType: 'sgx' | 'tdx'
  /** v3 only (reserved in v4/v5). */
  readonly qeSvn: number
  readonly pceSvn: number
  readonly qeVendorId: Uint8Array
  readonly userData: Uint8Array
}

export type QuoteBody =
  | { readonly kind: 'sgx'; readonly report: SgxReportBody }
  | { readonly kind: 'td10' | 'td15'; readonly report: TdReportBody }

/** A parsed quote. Byte fields are views into a private copy of the input. */
export type Quote = {
  readonly header: QuoteHeader
  readonly body: QuoteBody
  /** Header ‖ body: what the attestation key signed. */
  readonly signedBytes: Uint8Array
  /** ECDSA P-256 r ‖ s over `signedBytes`. */
  readonly signature: Uint8Array
  /** Raw X ‖ Y of the P-256 attestation key. */
  readonly attestationKey: Uint8Array
  readonly qeReport: SgxReportBody
  readonly qeReportSignature: Uint8Array
  readonly qeAuthData: Uint8Array
  /** The PCK chain (certification data type 5), PEM text as carried (maybe NUL-terminated). */
  readonly pckChainPem: string
  /** Bytes of the quote proper; the input may continue with zero padding. */
  readonly length: number
  readonly trailingBytes: number
}

const HEADER = {
  version: 0,
  attestationKeyType: 2,
  teeType: 4,
  qeSvn: 8,
  pceSvn: 10,
  qeVendorId: 12,
  userData: 28,
  size: 48,
} as const
const ECDSA_P256 = 2
const ECDSA_P384 = 3
const TEE_SGX = 0x00000000
const TEE_TDX = 0x00000081
const CERT_PCK_CHAIN = 5
const CERT_QE_REPORT = 6
const SIGNATURE_SIZE = 64
const KEY_SIZE = 64
const BODY_SIZES = { sgx: SGX_REPORT_SIZE, td10: TD10_REPORT_SIZE, td15: TD15_REPORT_SIZE } as const

function malformed(field: string, message: string): AttestError {
  return new AttestError('ERR_ATTEST_MALFORMED', `Cannot parse quote: ${message}`, {
    details: { field },
  })
}

/** A bounds-checked little-endian cursor over a range of the quote. */
class Cursor {
  readonly bytes: Uint8Array
  readonly view: DataView
  offset: number
  readonly end: number

  constructor(bytes: Uint8Array, offset: number, end: number) {
    this.bytes = bytes
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    this.offset = offset
    this.end = end
  }

  take(size: number, field: string): Uint8Array {
    if (size < 0 || this.offset + size > this.end) throw malformed(field, `${field} is truncated`)
    const out = this.bytes.subarray(this.offset, this.offset + size)
    this.offset += size
    return out
  }

  u16(field: string): number {
    const at = this.offset
    this.take(2, field)
    return this.view.getUint16(at, true)
  }

  u32(field: string): number {
    const at = this.offset
    this.take(4, field)
    return this.view.getUint32(at, true)
  }
}

function parseHeader(bytes: Uint8Array): QuoteHeader {
  if (bytes.length < HEADER.size) throw malformed('header', 'shorter than its 48-byte header')
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const version = view.getUint16(HEADER.version, true)
  if (version !== 3 && version !== 4 && version !== 5) {
    throw malformed('version', `unsupported version ${version}`)
  }
  const attestationKeyType = view.getUint16(HEADER.attestationKeyType, true)
  if (attestationKeyType === ECDSA_P384) {
    throw new AttestError(
      'ERR_ATTEST_UNSUPPORTED_TEE',
      'ECDSA P-384 attestation keys are not supported',
      {
        details: { field: 'attestationKeyType' },
      },
    )
  }
  if (attestationKeyType !== ECDSA_P256) {
    throw malformed('attestationKeyType', `unknown attestation key type ${attestationKeyType}`)
  }
  const tee = view.getUint32(HEADER.teeType, true)
  if (tee !== TEE_SGX && (tee !== TEE_TDX || version === 3)) {
    throw malformed('teeType', `tee type 0x${tee.toString(16)} is not valid for version ${version}`)
  }
  return {
    version,
    attestationKeyType,
    teeType: tee === TEE_TDX ? 'tdx' : 'sgx',
    qeSvn: view.getUint16(HEADER.qeSvn, true),
    pceSvn: view.getUint16(HEADER.pceSvn, true),
    qeVendorId: bytes.subarray(HEADER.qeVendorId, HEADER.qeVendorId + 16),
    userData: bytes.subarray(HEADER.userData, HEADER.size),
  }
}

function bodyKind(header: QuoteHeader, cursor: Cursor): keyof typeof BODY_SIZES {
  if (header.version !== 5) return header.teeType === 'tdx' ? 'td10' : 'sgx'
  const type = cursor.u16('bodyType')
  const size = cursor.u32('bodySize')
  const kind = type === 1 ? 'sgx' : type === 2 ? 'td10' : type === 3 ? 'td15' : undefined
  if (kind === undefined) throw malformed('bodyType', `unknown body type ${type}`)
  if ((kind === 'sgx') !== (header.teeType === 'sgx')) {
    throw malformed('bodyType', 'body type does not match the tee type')
  }
  if (size !== BODY_SIZES[kind])
    throw malformed('bodySize', `body size ${size} for body type ${type}`)
  return kind
}

function parseBody(kind: keyof typeof BODY_SIZES, bytes: Uint8Array): QuoteBody {
  if (kind === 'sgx') return { kind, report: parseSgxReportBody(bytes) }
  return { kind, report: parseTdReportBody(bytes, kind === 'td10' ? '1.0' : '1.5') }
}

function pemText(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes)
  } catch {
    throw malformed('certificationData', 'PCK chain is not UTF-8 text')
  }
}

/** QE report ‖ signature ‖ auth data ‖ certification data (type 5), up to `cursor.end`. */
function parseQeSection(cursor: Cursor) {
  const qeReport = parseSgxReportBody(cursor.take(SGX_REPORT_SIZE, 'qeReport'), 'QE report')
  const qeReportSignature = cursor.take(SIGNATURE_SIZE, 'qeReportSignature')
  const qeAuthData = cursor.take(cursor.u16('qeAuthDataSize'), 'qeAuthData')
  const certType = cursor.u16('certificationDataType')
  if (certType !== CERT_PCK_CHAIN) {
    throw malformed('certificationDataType', `certification data type ${certType} (need 5)`)
  }
  const pckChainPem = pemText(cursor.take(cursor.u32('certificationDataSize'), 'certificationData'))
  if (cursor.offset !== cursor.end) throw malformed('certificationData', 'sizes do not add up')
  return { qeReport, qeReportSignature, qeAuthData, pckChainPem }
}

/**
 * Parses a DCAP ECDSA P-256 quote (v3, v4, v5). Trailing zero bytes after the declared end are
 * tolerated and counted; anything else after it is refused.
 *
 * @example const quote = parseQuote(bytes); quote.body.kind // 'td10'
 * @throws AttestError `ERR_ATTEST_MALFORMED` (details.field names the field),
 *   `ERR_ATTEST_UNSUPPORTED_TEE` (P-384 attestation key)
 */
export function parseQuote(input: Uint8Array): Quote {
  if (!(input instanceof Uint8Array)) throw malformed('quote', 'not bytes')
  const bytes = new Uint8Array(input)
  const header = parseHeader(bytes)
  const cursor = new Cursor(bytes, HEADER.size, bytes.length)
  const kind = bodyKind(header, cursor)
  const body = parseBody(kind, cursor.take(BODY_SIZES[kind], 'body'))
  const signedBytes = bytes.subarray(0, cursor.offset)
  const signatureDataSize = cursor.u32('signatureDataSize')
  const end = cursor.offset + signatureDataSize
  if (end > bytes.length) throw malformed('signatureData', 'signature data is truncated')
  const sig = new Cursor(bytes, cursor.offset, end)
  const signature = sig.take(SIGNATURE_SIZE, 'signature')
  const attestationKey = sig.take(KEY_SIZE, 'attestationKey')
  let qe: ReturnType<typeof parseQeSection>
  if (header.version === 3) {
    qe = parseQeSection(sig)
  } else {
    const type = sig.u16('certificationDataType')
    if (type !== CERT_QE_REPORT) {
      throw malformed('certificationDataType', `certification data type ${type} (need 6)`)
    }
    const size = sig.u32('certificationDataSize')
    const inner = new Cursor(bytes, sig.offset, sig.offset + size)
    if (inner.end !== end) throw malformed('certificationDataSize', 'sizes do not add up')
    qe = parseQeSection(inner)
  }
  for (let i = end; i < bytes.length; i++) {
    if (bytes[i] !== 0) throw malformed('trailingBytes', 'non-zero bytes after the quote')
  }
  return {
    header,
    body,
    signedBytes,
    signature,
    attestationKey,
    ...qe,
    length: end,
    trailingBytes: bytes.length - end,
  }
}
