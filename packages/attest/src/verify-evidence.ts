import { fromBase64, toHex } from '@subrosa/core'
import type { JWK } from 'jose'
import type { Claims } from './claims.ts'
import {
  type DcapCollateral,
  type DcapCollateralRequest,
  dcapCollateralRequest,
  type ParsedDcapCollateral,
  verifyDcapQuote,
} from './dcap/index.ts'
import type { CrlMode } from './dcap/verify-collateral.ts'
import { AttestError } from './errors.ts'
import { verifySimEvidence } from './sim/sim-evidence.ts'
import {
  decodeVekExtensions,
  parseSnpReport,
  type SnpProduct,
  verifySnpReport,
} from './snp/index.ts'
import { type TrustedIssuer, verifyAttestationToken } from './token/index.ts'
import { type Certificate, parseCertificate } from './x509/certificate.ts'
import { extensionValue } from './x509/index.ts'

/** What the AMD side needs from a collateral source to verify a report without its VEK. */
export type AmdVekRequest = {
  readonly product: SnpProduct | undefined
  readonly chipId: string
  readonly reportedTcb: string
  readonly signingKey: 'vcek' | 'vlek' | 'none'
}

/** Where the Intel side finds the collateral of a quote (a bundle, a PCCS, Intel's PCS). */
export type DcapCollateralSource = (
  request: DcapCollateralRequest,
) => Promise<DcapCollateral | ParsedDcapCollateral | undefined>

/** Trust roots, collateral sources and time for {@link verifyEvidence}; one entry per kind. */
export type VerifyEvidenceOptions = {
  readonly now: Date
  /** Trusted sim platform public keys; sim evidence is refused when absent. */
  readonly sim?: { readonly trustedKeys: readonly JWK[]; readonly maxAgeSeconds?: number }
  /** SGX/TDX: where the collateral comes from; `crls: 'not-provided'` tolerates missing CRLs. */
  readonly intel?: { readonly collateral: DcapCollateralSource; readonly crls?: CrlMode }
  /** SEV-SNP: where to find the VEK when the evidence does not carry it, and AMD's CRL. */
  readonly amd?: {
    readonly vek?: (
      request: AmdVekRequest,
    ) => Promise<Uint8Array | string | Certificate | undefined>
    readonly crl?: (product: SnpProduct) => Promise<Uint8Array | undefined>
    readonly product?: SnpProduct
  }
  /** Passport mode: trusted token issuers. */
  readonly tokens?: { readonly issuers: readonly TrustedIssuer[]; readonly audience?: string }
}

/** Verified claims, and the facts a verdict explanation needs (no secrets). */
export type EvidenceVerdict = {
  readonly claims: Claims
  readonly details: Readonly<Record<string, string | number | boolean | readonly string[]>>
}

/**
 * Verify evidence of the given kind (`sim`, `sgx`, `tdx`, `snp`, `token`) in its KBS wire form and
 * return normalized claims. The caller still checks report_data binding and evaluates a policy.
 *
 * @throws AttestError `ERR_ATTEST_UNSUPPORTED_TEE` for kinds without a configured verifier,
 * `ERR_ATTEST_MALFORMED` for a wire form that does not fit, and whatever the kind's verifier throws.
 */
export async function verifyEvidence(
  tee: string,
  evidence: unknown,
  options: VerifyEvidenceOptions,
): Promise<EvidenceVerdict> {
  switch (tee) {
    case 'sim': {
      if (options.sim === undefined) break
      const claims = await verifySimEvidence(evidence, { now: options.now, ...options.sim })
      return { claims, details: { insecure: true } }
    }
    case 'sgx':
    case 'tdx':
      if (options.intel === undefined) break
      return verifyDcap(tee, evidence, options.intel, options.now)
    case 'snp':
      return verifySnp(evidence, options)
    case 'token': {
      if (options.tokens === undefined) break
      const token = typeof evidence === 'string' ? evidence : field(evidence, 'token')
      const verdict = await verifyAttestationToken(token, {
        issuers: options.tokens.issuers,
        now: options.now,
        ...(options.tokens.audience === undefined ? {} : { audience: options.tokens.audience }),
      })
      return {
        claims: verdict.claims,
        details: {
          issuer: verdict.issuer,
          kind: verdict.kind,
          expiresAt: verdict.expiresAt.toISOString(),
        },
      }
    }
  }
  throw new AttestError(
    'ERR_ATTEST_UNSUPPORTED_TEE',
    `No verifier is configured for TEE ${JSON.stringify(tee)}`,
  )
}

async function verifyDcap(
  tee: 'sgx' | 'tdx',
  evidence: unknown,
  intel: NonNullable<VerifyEvidenceOptions['intel']>,
  now: Date,
): Promise<EvidenceVerdict> {
  const quote = bytesField(evidence, 'quote')
  const request = dcapCollateralRequest(quote)
  if (request.tee !== tee) {
    throw new AttestError(
      'ERR_ATTEST_MALFORMED',
      `The quote is a ${request.tee} quote, not ${tee}`,
      {
        details: { field: 'tee' },
      },
    )
  }
  const collateral = await intel.collateral(request)
  if (collateral === undefined) {
    throw new AttestError(
      'ERR_ATTEST_COLLATERAL',
      `No collateral for ${tee} FMSPC ${request.fmspc} (${request.ca} CA) is configured`,
      { details: { fmspc: request.fmspc, ca: request.ca } },
    )
  }
  const verdict = verifyDcapQuote(quote, {
    collateral,
    now,
    ...(intel.crls === undefined ? {} : { crls: intel.crls }),
  })
  return {
    claims: verdict.claims,
    details: {
      fmspc: verdict.fmspc,
      ca: request.ca,
      qeStatus: verdict.qeStatus,
      platformStatus: verdict.platformStatus,
      tcbEvaluationDataNumber: verdict.tcbEvaluationDataNumber,
      collateralExpires: verdict.collateralExpires.toISOString(),
      crls: verdict.crls,
    },
  }
}

async function verifySnp(
  evidence: unknown,
  options: VerifyEvidenceOptions,
): Promise<EvidenceVerdict> {
  const report = bytesField(evidence, 'report')
  const parsed = parseSnpReport(report)
  const given = optionalField(evidence, 'vek')
  let vek: Uint8Array | string | Certificate | undefined =
    given === undefined ? undefined : given.includes('BEGIN') ? given : bytesOf(given, 'vek')
  if (vek === undefined && options.amd?.vek !== undefined) {
    vek = await options.amd.vek({
      product: parsed.product ?? options.amd.product,
      chipId: toHex(parsed.chipId),
      reportedTcb: toHex(parsed.tcb.reported),
      signingKey: parsed.signingKey,
    })
  }
  if (vek === undefined) {
    throw new AttestError(
      'ERR_ATTEST_COLLATERAL',
      'No VCEK/VLEK for this SEV-SNP report: the evidence carries none and no configured source has it',
    )
  }
  const certificate =
    typeof vek === 'string' || vek instanceof Uint8Array ? parseCertificate(vek) : vek
  // Reports before version 3 do not name their product; the VEK does (verified below).
  const product =
    parsed.product ??
    options.amd?.product ??
    decodeVekExtensions((oid) => extensionValue(certificate, oid)).product
  const crl = product === undefined ? undefined : await options.amd?.crl?.(product)
  const verdict = verifySnpReport(report, {
    vek: certificate,
    now: options.now,
    ...(crl === undefined ? {} : { crl }),
    ...(options.amd?.product === undefined ? {} : { product: options.amd.product }),
  })
  return {
    claims: verdict.claims,
    details: { product: verdict.product, signingKey: verdict.signingKey, crl: verdict.crl },
  }
}

function field(evidence: unknown, name: string): string {
  const value = optionalField(evidence, name)
  if (value === undefined)
    throw new AttestError('ERR_ATTEST_MALFORMED', `Evidence needs a string field ${name}`)
  return value
}

function optionalField(evidence: unknown, name: string): string | undefined {
  if (typeof evidence !== 'object' || evidence === null) {
    throw new AttestError('ERR_ATTEST_MALFORMED', 'Evidence must be a JSON object')
  }
  const value = (evidence as Record<string, unknown>)[name]
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length > 1 << 20) {
    throw new AttestError('ERR_ATTEST_MALFORMED', `Evidence field ${name} must be a string`)
  }
  return value
}

function bytesField(evidence: unknown, name: string): Uint8Array {
  return bytesOf(field(evidence, name), name)
}

function bytesOf(value: string, name: string): Uint8Array {
  const bytes = fromBase64(value)
  if (bytes === undefined)
    throw new AttestError('ERR_ATTEST_MALFORMED', `Evidence field ${name} must be base64`)
  return bytes
}
