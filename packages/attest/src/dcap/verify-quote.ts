// verifyDcapQuote: Intel SGX/TDX ECDSA quote verification with explicit collateral and time.
import { createHash } from 'node:crypto'
import { equalBytes, fromHex } from '@subrosa/core'
import type { SgxClaims, TcbStatus, TdxClaims } from '../claims.ts'
import { AttestError } from '../errors.ts'
import { type Certificate, parseCertificate, parsePemChain } from '../x509/certificate.ts'
import { decodePem } from '../x509/pem.ts'
import { verifyChain } from '../x509/verify-chain.ts'
import type { DcapCollateral } from './collateral.ts'
import { intelSgxRootCa } from './intel-root.ts'
import { p256PublicKey, verifyP256 } from './p256.ts'
import { type PckExtensions, parsePckExtensions } from './pck-extensions.ts'
import { parseQuote, type Quote } from './quote.ts'
import { quoteClaims } from './quote-claims.ts'
import { computeTcbStatus, qeTcbLevel } from './tcb-status.ts'
import {
  type CrlMode,
  isParsedCollateral,
  type ParsedCollateral,
  parseDcapCollateral,
  requireCrls,
  verifyCollateral,
} from './verify-collateral.ts'

export type VerifyDcapOptions = {
  /** Collateral as signed by Intel, or the result of `parseDcapCollateral` to parse it once. */
  readonly collateral: DcapCollateral | ParsedCollateral
  /** Verification time; the wall clock is never read. */
  readonly now: Date
  /** Pinned anchors; default: the Intel SGX Root CA. */
  readonly roots?: readonly Certificate[]
  /** 'not-provided' allows collateral without CRLs (revocation then unknown). Default 'required'. */
  readonly crls?: CrlMode
  /** When given, REPORTDATA must equal it (shorter values are zero-padded to 64 bytes). */
  readonly expectedReportData?: Uint8Array
}

export type DcapVerdict = {
  readonly claims: SgxClaims | TdxClaims
  readonly tcbStatus: TcbStatus
  readonly advisoryIds: string[]
  readonly qeStatus: TcbStatus
  readonly platformStatus: TcbStatus
  /** Lower-case hex. */
  readonly fmspc: string
  readonly tcbEvaluationDataNumber: number
  /** The earliest nextUpdate of the collateral used. */
  readonly collateralExpires: Date
  readonly crls: 'checked' | 'not-provided'
  /** Zero bytes after the quote's declared end. */
  readonly trailingBytes: number
}

const INTEL_QE_VENDOR_ID = fromHex('939a7233f79c4ca9940a0db3957f0607') as Uint8Array
const REPORT_DATA_SIZE = 64

function fail(
  code:
    | 'ERR_ATTEST_SIGNATURE'
    | 'ERR_ATTEST_QE_BINDING'
    | 'ERR_ATTEST_QE_IDENTITY'
    | 'ERR_ATTEST_COLLATERAL'
    | 'ERR_ATTEST_REPORT_DATA',
  message: string,
  field: string,
): never {
  throw new AttestError(code, message, { details: { field } })
}

/** The collateral is for this quote: TEE kind, identity ids, FMSPC, PCE-ID, PCK CRL issuer. */
function checkCollateralFor(
  quote: Quote,
  pck: PckExtensions,
  pckLeaf: Certificate,
  c: ParsedCollateral,
): void {
  const tdx = quote.header.teeType === 'tdx'
  if (c.tcbInfo.id !== (tdx ? 'TDX' : 'SGX') || (tdx && c.tcbInfo.version < 3)) {
    fail(
      'ERR_ATTEST_COLLATERAL',
      `TCB Info ${c.tcbInfo.id} does not fit a ${quote.header.teeType} quote`,
      'tcbInfo.id',
    )
  }
  if (c.qeIdentity.id !== (tdx ? 'TD_QE' : 'QE')) {
    fail(
      'ERR_ATTEST_COLLATERAL',
      `QE Identity ${c.qeIdentity.id} does not fit a ${quote.header.teeType} quote`,
      'qeIdentity.id',
    )
  }
  if (c.tcbInfo.fmspc !== pck.fmspc)
    fail('ERR_ATTEST_COLLATERAL', 'TCB Info is for another FMSPC', 'tcbInfo.fmspc')
  if (c.tcbInfo.pceId !== pck.pceId)
    fail('ERR_ATTEST_COLLATERAL', 'TCB Info is for another PCE-ID', 'tcbInfo.pceId')
  if (c.crls !== undefined && c.crls.pck.issuer !== pckLeaf.issuer) {
    fail('ERR_ATTEST_COLLATERAL', 'PCK CRL is not from the CA that issued the PCK', 'pckCrl')
  }
}

function checkQeIdentity(quote: Quote, c: ParsedCollateral): void {
  const qe = quote.qeReport
  const id = c.qeIdentity
  const masked = qe.attributes.map((b, i) => b & (id.attributesMask[i] as number))
  if (
    !equalBytes(qe.mrSigner, id.mrSigner) ||
    qe.isvProdId !== id.isvProdId ||
    (qe.miscSelect & id.miscselectMask) >>> 0 !== id.miscselect ||
    !equalBytes(masked, id.attributes)
  ) {
    fail('ERR_ATTEST_QE_IDENTITY', 'The quoting enclave does not match the QE Identity', 'qeReport')
  }
}

/**
 * Parses the PEM chain of a quote, reusing already parsed certificates with identical DER (the
 * root and the PCK CA usually are), which is what parsing them again would produce.
 */
function parseChainReusing(pem: string, known: readonly Certificate[]): Certificate[] {
  const blocks = decodePem(pem)
  if (blocks.length === 0) parsePemChain(pem) // throws the parser's error
  return blocks.map((der) => known.find((c) => equalBytes(c.der, der)) ?? parseCertificate(der))
}

function reportData(quote: Quote): Uint8Array {
  return quote.body.report.reportData
}

/**
 * Verifies a DCAP ECDSA quote (SGX v3/v4/v5, TDX v4/v5) against explicit collateral at `now`:
 * quote and QE report signatures, QE binding and identity, PCK chain to the pinned root with
 * CRLs, TCB Info / QE Identity signatures and windows, and Intel's TCB status.
 *
 * @example const verdict = verifyDcapQuote(quote, { collateral, now: new Date() })
 * @throws AttestError `ERR_ATTEST_MALFORMED`, `ERR_ATTEST_UNSUPPORTED_TEE`, `ERR_ATTEST_SIGNATURE`,
 *   `ERR_ATTEST_COLLATERAL`, `ERR_ATTEST_CHAIN`, `ERR_ATTEST_UNTRUSTED_ROOT`, `ERR_ATTEST_EXPIRED`,
 *   `ERR_ATTEST_REVOKED`, `ERR_ATTEST_CRL`, `ERR_ATTEST_COLLATERAL_SIGNATURE`,
 *   `ERR_ATTEST_COLLATERAL_EXPIRED`, `ERR_ATTEST_QE_BINDING`, `ERR_ATTEST_QE_IDENTITY`,
 *   `ERR_ATTEST_REPORT_DATA`, `ERR_ATTEST_TCB_NOT_SUPPORTED`, `ERR_ATTEST_TDX_MODULE`
 */
export function verifyDcapQuote(quoteBytes: Uint8Array, options: VerifyDcapOptions): DcapVerdict {
  const { now } = options
  const roots = options.roots ?? [intelSgxRootCa()]
  const quote = parseQuote(quoteBytes)
  // Quote signature over header ‖ body (the key is bound to the QE below).
  const attestationKey = p256PublicKey(quote.attestationKey)
  if (
    attestationKey === undefined ||
    !verifyP256(quote.signedBytes, quote.signature, attestationKey)
  ) {
    fail(
      'ERR_ATTEST_SIGNATURE',
      'Quote signature does not verify with the attestation key',
      'signature',
    )
  }
  if (!equalBytes(quote.header.qeVendorId, INTEL_QE_VENDOR_ID)) {
    throw new AttestError(
      'ERR_ATTEST_UNSUPPORTED_TEE',
      'Quote is not from the Intel quoting enclave',
      {
        details: { field: 'qeVendorId' },
      },
    )
  }
  const collateral = isParsedCollateral(options.collateral)
    ? options.collateral
    : parseDcapCollateral(options.collateral)
  requireCrls(collateral, options.crls ?? 'required')
  const pckChain = parseChainReusing(quote.pckChainPem, [
    ...roots,
    ...(collateral.crls?.pckIssuerChain ?? []),
  ])
  const pckLeaf = pckChain[0] as Certificate
  const pck = parsePckExtensions(pckLeaf)
  checkCollateralFor(quote, pck, pckLeaf, collateral)
  const crls = verifyCollateral(collateral, roots, now)
  verifyChain(pckChain, { roots, now, crls })
  if (!verifyP256(quote.qeReport.bytes, quote.qeReportSignature, pckLeaf.x509.publicKey)) {
    fail(
      'ERR_ATTEST_SIGNATURE',
      'QE report signature does not verify with the PCK key',
      'qeReportSignature',
    )
  }
  const binding = createHash('sha256')
    .update(quote.attestationKey)
    .update(quote.qeAuthData)
    .digest()
  const expectedQeData = new Uint8Array(REPORT_DATA_SIZE)
  expectedQeData.set(binding)
  if (!equalBytes(quote.qeReport.reportData, expectedQeData)) {
    fail(
      'ERR_ATTEST_QE_BINDING',
      'QE report data does not bind the attestation key',
      'qeReport.reportData',
    )
  }
  checkQeIdentity(quote, collateral)
  if (options.expectedReportData !== undefined) {
    const expected = new Uint8Array(REPORT_DATA_SIZE)
    if (options.expectedReportData.length > REPORT_DATA_SIZE) {
      fail('ERR_ATTEST_REPORT_DATA', 'Expected report data is longer than 64 bytes', 'reportData')
    }
    expected.set(options.expectedReportData)
    if (!equalBytes(reportData(quote), expected)) {
      fail('ERR_ATTEST_REPORT_DATA', 'Report data is not the expected value', 'reportData')
    }
  }
  const signatures = 'valid'
  let qeLevel: ReturnType<typeof qeTcbLevel>
  let tcb: ReturnType<typeof computeTcbStatus>
  try {
    qeLevel = qeTcbLevel(collateral.qeIdentity, quote.qeReport.isvSvn)
    tcb = computeTcbStatus({
      quoteVersion: quote.header.version,
      ...(quote.body.kind === 'sgx'
        ? {}
        : { td: { report: quote.body.report, kind: quote.body.kind } }),
      pck,
      tcbInfo: collateral.tcbInfo,
      qe: qeLevel,
    })
  } catch (error) {
    if (error instanceof AttestError && error.code === 'ERR_ATTEST_TCB_NOT_SUPPORTED') {
      throw new AttestError(error.code, error.message, {
        details: {
          ...error.details,
          signatures,
          fmspc: pck.fmspc,
          tcbEvaluationDataNumber: collateral.tcbInfo.tcbEvaluationDataNumber,
        },
      })
    }
    throw error
  }
  const expiries = [collateral.tcbInfo.nextUpdate, collateral.qeIdentity.nextUpdate]
  for (const crl of crls) if (crl.nextUpdate !== undefined) expiries.push(crl.nextUpdate)
  return {
    claims: quoteClaims(quote, pck, tcb, qeLevel.status),
    tcbStatus: tcb.status,
    advisoryIds: tcb.advisoryIds,
    qeStatus: qeLevel.status,
    platformStatus: tcb.platformStatus,
    fmspc: pck.fmspc,
    tcbEvaluationDataNumber: collateral.tcbInfo.tcbEvaluationDataNumber,
    collateralExpires: new Date(Math.min(...expiries.map((d) => d.getTime()))),
    crls: crls.length > 0 ? 'checked' : 'not-provided',
    trailingBytes: quote.trailingBytes,
  }
}
