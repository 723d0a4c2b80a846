import { equalBytes } from '@subrosa/core'
import type { SnpClaims } from '../claims.ts'
import { AttestError } from '../errors.ts'
import {
  type Certificate,
  type Crl,
  extensionValue,
  parseCertificate,
  parseCrl,
  verifyChain,
  verifyCrl,
} from '../x509/index.ts'
import { AMD_ROOTS, type SnpRootSet, type SnpRoots } from './amd-roots.ts'
import { parseSnpReport, type SnpReport } from './report.ts'
import { verifySnpReportSignature } from './signature.ts'
import { snpClaimsOf } from './snp-claims.ts'
import { decodeSnpTcb, type SnpProduct, snpTcbComponents } from './tcb.ts'
import { decodeVekExtensions, type VekExtensions } from './vek-extensions.ts'

/** Options of {@link verifySnpReport}. */
export type VerifySnpOptions = {
  /**
   * The VCEK or VLEK certificate that signed the report: DER, PEM, or parsed once with
   * `parseCertificate` (VCEKs are per chip and TCB, so callers can keep them parsed).
   */
  readonly vek: Uint8Array | string | Certificate
  /** Verification time: certificate and CRL validity are checked at this instant. */
  readonly now: Date
  /** Trust roots per product; default {@link AMD_ROOTS}. Only these roots are trusted. */
  readonly roots?: SnpRoots
  /** The AMD KDS CRL (DER) of the product, signed by its ARK; `crl` in the verdict says whether one was checked. */
  readonly crl?: Uint8Array
  /** The product, when neither the report (v2) nor the VEK's productName says it. */
  readonly product?: SnpProduct
  /** The 64 bytes REPORT_DATA must equal. */
  readonly expectedReportData?: Uint8Array
}

/** A verified SEV-SNP report. */
export type SnpVerdict = {
  readonly claims: SnpClaims
  /** Whether revocation was checked against a CRL. */
  readonly crl: 'checked' | 'not-provided'
  readonly product: SnpProduct
  readonly signingKey: 'vcek' | 'vlek'
}

type ParsedRoots = { ark: Certificate; ask?: Certificate; asvk?: Certificate }

/** Parsed root sets, by identity of the configured set (the pinned ones parse once). */
const parsedRoots = new WeakMap<SnpRootSet, ParsedRoots>()

function rootsFor(roots: SnpRoots, product: SnpProduct): ParsedRoots {
  const set = roots[product]
  if (set === undefined) {
    throw new AttestError('ERR_ATTEST_UNTRUSTED_ROOT', `No ARK is pinned for ${product}`)
  }
  const cached = parsedRoots.get(set)
  if (cached !== undefined) return cached
  const parse = (role: string, cert: string | Uint8Array): Certificate => {
    try {
      return parseCertificate(cert)
    } catch (cause) {
      throw new AttestError(
        'ERR_ATTEST_UNTRUSTED_ROOT',
        `The pinned ${role} of ${product} cannot be parsed`,
        { cause },
      )
    }
  }
  const parsed: ParsedRoots = {
    ark: parse('ARK', set.ark),
    ...(set.ask === undefined ? {} : { ask: parse('ASK', set.ask) }),
    ...(set.asvk === undefined ? {} : { asvk: parse('ASVK', set.asvk) }),
  }
  parsedRoots.set(set, parsed)
  return parsed
}

function mismatch(message: string): AttestError {
  return new AttestError('ERR_ATTEST_TCB_MISMATCH', message)
}

/** One product from the report's CPUID (v3+), the VEK's productName and the option; they must agree. */
function resolveProduct(
  report: SnpReport,
  ext: VekExtensions,
  option: SnpProduct | undefined,
): SnpProduct {
  const said = [
    ['the report CPUID', report.product],
    ['the VCEK/VLEK productName', ext.product],
    ['the product option', option],
  ] as const
  let product: SnpProduct | undefined
  for (const [, p] of said) {
    if (p === undefined) continue
    if (product !== undefined && p !== product) {
      const who = said.filter(([, q]) => q !== undefined).map(([w, q]) => `${w} says ${q}`)
      throw mismatch(`Cannot verify SNP report: products differ (${who.join(', ')})`)
    }
    product = p
  }
  if (product === undefined) {
    throw new AttestError(
      'ERR_ATTEST_UNSUPPORTED_TEE',
      `Cannot verify SNP report: unknown product (productName ${JSON.stringify(ext.productName)}); pass the product option`,
    )
  }
  return product
}

/** REPORTED_TCB must equal the VEK's SPLs; CHIP_ID must equal hwID (VCEK, unless masked). */
function checkBinding(report: SnpReport, ext: VekExtensions, product: SnpProduct): void {
  const reported = decodeSnpTcb(report.tcb.reported, product)
  for (const name of snpTcbComponents(product)) {
    if (reported[name] !== ext.tcb[name]) {
      throw mismatch(
        `SNP REPORTED_TCB ${name} is ${reported[name]}, the VCEK/VLEK says ${ext.tcb[name] ?? 'nothing'}`,
      )
    }
  }
  if (ext.kind !== 'vcek' || report.maskChipId) return
  const hwId = ext.hwId as Uint8Array
  if (!equalBytes(report.chipId.subarray(0, hwId.length), hwId)) {
    throw mismatch('SNP CHIP_ID is not the hwID of the VCEK')
  }
}

/**
 * Verify an SEV-SNP attestation report: its ECDSA P-384 signature by the VEK; the VEK chain
 * (VCEK ← ASK, or VLEK ← ASVK when the signer info says VLEK, ← ARK; RSA-PSS) against the
 * pinned roots only; the CRL when given (signed by the ARK); REPORTED_TCB and CHIP_ID against
 * the VEK extensions; REPORT_DATA when expected. Policy (debug, TCB minima, measurement) is the
 * caller's.
 *
 * @example const { claims } = verifySnpReport(report, { vek, now: new Date() })
 * @throws AttestError `ERR_ATTEST_MALFORMED` (report, VEK or its extensions),
 * `ERR_ATTEST_UNSUPPORTED_TEE` (unknown product), `ERR_ATTEST_CHAIN`, `ERR_ATTEST_UNTRUSTED_ROOT`,
 * `ERR_ATTEST_EXPIRED`, `ERR_ATTEST_REVOKED`, `ERR_ATTEST_CRL`, `ERR_ATTEST_COLLATERAL_EXPIRED`
 * (CRL out of date), `ERR_ATTEST_SIGNATURE`, `ERR_ATTEST_TCB_MISMATCH`, `ERR_ATTEST_REPORT_DATA`.
 */
export function verifySnpReport(report: Uint8Array, options: VerifySnpOptions): SnpVerdict {
  const parsed = parseSnpReport(report)
  const vek =
    typeof options.vek === 'string' || options.vek instanceof Uint8Array
      ? parseCertificate(options.vek)
      : options.vek
  const ext = decodeVekExtensions((oid) => extensionValue(vek, oid))
  if (parsed.signingKey === 'none') {
    throw new AttestError('ERR_ATTEST_SIGNATURE', 'SNP report is unsigned (SIGNING_KEY none)')
  }
  const signingKey = parsed.signingKey
  // The signature first: every later decision reads report fields, which must be authentic.
  verifySnpReportSignature(parsed, vek.x509.publicKey)
  const product = resolveProduct(parsed, ext, options.product)
  const roots = rootsFor(options.roots ?? AMD_ROOTS, product)
  const issuer = signingKey === 'vcek' ? roots.ask : roots.asvk
  if (issuer === undefined) {
    const role = signingKey === 'vcek' ? 'ASK' : 'ASVK'
    throw new AttestError('ERR_ATTEST_UNTRUSTED_ROOT', `No ${role} is pinned for ${product}`)
  }
  const crls: Crl[] = []
  if (options.crl !== undefined) {
    // Checked here against the ARK, so that a CRL of another issuer is refused, not ignored.
    const crl = parseCrl(options.crl)
    verifyCrl(crl, roots.ark, options.now)
    crls.push(crl)
  }
  verifyChain([vek, issuer], { roots: [roots.ark], now: options.now, crls })
  if (ext.kind !== signingKey) {
    throw new AttestError(
      'ERR_ATTEST_CHAIN',
      `SNP report is signed by a ${signingKey.toUpperCase()}, the certificate is a ${ext.kind.toUpperCase()}`,
    )
  }
  checkBinding(parsed, ext, product)
  const expected = options.expectedReportData
  if (expected !== undefined && !equalBytes(parsed.reportData, expected)) {
    throw new AttestError('ERR_ATTEST_REPORT_DATA', 'SNP REPORT_DATA is not the expected value')
  }
  return {
    claims: snpClaimsOf(parsed, product, signingKey),
    crl: crls.length > 0 ? 'checked' : 'not-provided',
    product,
    signingKey,
  }
}
