// Collateral checks: issuer chains to the pinned root, CRLs, signatures over the exact signed
// JSON bytes, and issue/next-update windows.
import type { KeyObject } from 'node:crypto'
import { fromHex, utf8 } from '@subrosa/core'
import { AttestError } from '../errors.ts'
import { type Certificate, parsePemChain } from '../x509/certificate.ts'
import { type Crl, parseCrl, verifyCrl } from '../x509/crl.ts'
import { verifyChain } from '../x509/verify-chain.ts'
import type { DcapCollateral } from './collateral.ts'
import { verifyP256 } from './p256.ts'
import { parseQeIdentity, type QeIdentity } from './qe-identity.ts'
import { parseTcbInfo, type TcbInfo } from './tcb-info.ts'

export type CrlMode = 'required' | 'not-provided'

/** Collateral parsed but not yet verified (see `parseDcapCollateral`). */
export type ParsedCollateral = {
  readonly source: DcapCollateral
  readonly tcbInfo: TcbInfo
  readonly qeIdentity: QeIdentity
  readonly tcbInfoChain: readonly Certificate[]
  readonly qeIdentityChain: readonly Certificate[]
  /** Present when CRLs were provided. */
  readonly crls?: {
    readonly root: Crl
    readonly pck: Crl
    readonly pckIssuerChain: readonly Certificate[]
  }
}

const TCB_SIGNING_CN = 'CN=Intel SGX TCB Signing'

function missing(field: string): AttestError {
  return new AttestError('ERR_ATTEST_COLLATERAL', `Collateral lacks ${field}`, {
    details: { field },
  })
}

function chain(pem: string, field: string): Certificate[] {
  if (typeof pem !== 'string' || pem === '') throw missing(field)
  return parsePemChain(pem)
}

const parsedSet = new WeakSet<ParsedCollateral>()

/** True for collateral returned by `parseDcapCollateral`. */
export function isParsedCollateral(value: unknown): value is ParsedCollateral {
  return typeof value === 'object' && value !== null && parsedSet.has(value as ParsedCollateral)
}

/**
 * Parses collateral once (JSON, chains, CRLs) so that many quotes can be verified against it;
 * signatures, chains and windows are still checked at each verification. CRLs are all present
 * or all absent.
 *
 * @example const parsed = parseDcapCollateral(collateral); verifyDcapQuote(q, { collateral: parsed, now })
 * @throws AttestError `ERR_ATTEST_COLLATERAL`, `ERR_ATTEST_MALFORMED` (chains), `ERR_ATTEST_CRL`
 */
export function parseDcapCollateral(collateral: DcapCollateral): ParsedCollateral {
  const parsed = parseCollateral(collateral)
  parsedSet.add(parsed)
  return parsed
}

/** Requires CRLs unless `mode` is 'not-provided'. */
export function requireCrls(parsed: ParsedCollateral, mode: CrlMode): void {
  if (mode === 'required' && parsed.crls === undefined) {
    throw missing('CRLs (rootCaCrl, pckCrl, pckCrlIssuerChain)')
  }
}

function parseCollateral(collateral: DcapCollateral): ParsedCollateral {
  if (typeof collateral !== 'object' || collateral === null) throw missing('collateral')
  const parsed = {
    source: collateral,
    tcbInfo: parseTcbInfo(collateral.tcbInfo),
    qeIdentity: parseQeIdentity(collateral.qeIdentity),
    tcbInfoChain: chain(collateral.tcbInfoIssuerChain, 'tcbInfoIssuerChain'),
    qeIdentityChain: chain(collateral.qeIdentityIssuerChain, 'qeIdentityIssuerChain'),
  }
  const { rootCaCrl, pckCrl, pckCrlIssuerChain } = collateral
  if (rootCaCrl === undefined && pckCrl === undefined && pckCrlIssuerChain === undefined) {
    return Object.freeze(parsed)
  }
  if (rootCaCrl === undefined) throw missing('rootCaCrl')
  if (pckCrl === undefined) throw missing('pckCrl')
  return Object.freeze({
    ...parsed,
    crls: {
      root: parseCrl(rootCaCrl),
      pck: parseCrl(pckCrl),
      pckIssuerChain: chain(pckCrlIssuerChain as string, 'pckCrlIssuerChain'),
    },
  })
}

function signerOf(
  certs: readonly Certificate[],
  roots: readonly Certificate[],
  now: Date,
  crls: Crl[],
) {
  const path = verifyChain(certs, { roots, now, crls })
  const signer = path[0] as Certificate
  if (path.length !== 2 || !signer.subject.split(', ').includes(TCB_SIGNING_CN)) {
    throw new AttestError(
      'ERR_ATTEST_CHAIN',
      'Collateral signer is not the TCB signing certificate',
      {
        details: { certificate: signer.subject },
      },
    )
  }
  return { key: signer.x509.publicKey, root: path[1] as Certificate }
}

function checkSignature(raw: string, signatureHex: string, key: KeyObject, field: string): void {
  const signature = typeof signatureHex === 'string' ? fromHex(signatureHex) : undefined
  if (signature === undefined || signature.length !== 64) throw missing(`${field}Signature`)
  if (!verifyP256(utf8(raw), signature, key)) {
    throw new AttestError(
      'ERR_ATTEST_COLLATERAL_SIGNATURE',
      `${field} is not signed by the TCB signing key over its exact bytes`,
      { details: { field } },
    )
  }
}

function checkWindow(issueDate: Date, nextUpdate: Date, now: Date, field: string): void {
  const t = now.getTime()
  if (Number.isNaN(t) || t < issueDate.getTime() || t > nextUpdate.getTime()) {
    throw new AttestError(
      'ERR_ATTEST_COLLATERAL_EXPIRED',
      `${field} is not current at the given time`,
      {
        details: {
          field,
          issueDate: issueDate.toISOString(),
          nextUpdate: nextUpdate.toISOString(),
        },
      },
    )
  }
}

/**
 * Verifies parsed collateral at `now`; returns the CRLs to apply to the PCK chain.
 *
 * @throws AttestError `ERR_ATTEST_CHAIN`, `ERR_ATTEST_UNTRUSTED_ROOT`, `ERR_ATTEST_EXPIRED`,
 *   `ERR_ATTEST_REVOKED`, `ERR_ATTEST_CRL`, `ERR_ATTEST_COLLATERAL_SIGNATURE`,
 *   `ERR_ATTEST_COLLATERAL_EXPIRED`
 */
export function verifyCollateral(
  parsed: ParsedCollateral,
  roots: readonly Certificate[],
  now: Date,
): Crl[] {
  const rootCrl = parsed.crls === undefined ? [] : [parsed.crls.root]
  const tcb = signerOf(parsed.tcbInfoChain, roots, now, rootCrl)
  const qe = signerOf(parsed.qeIdentityChain, roots, now, rootCrl)
  if (parsed.crls !== undefined) {
    // The root CRL must come from the anchor itself, or verifyChain would silently skip it.
    verifyCrl(parsed.crls.root, tcb.root, now)
    const caPath = verifyChain(parsed.crls.pckIssuerChain, {
      roots,
      now,
      crls: rootCrl,
      leaf: 'ca',
    })
    verifyCrl(parsed.crls.pck, caPath[0] as Certificate, now)
  }
  checkSignature(parsed.source.tcbInfo, parsed.source.tcbInfoSignature, tcb.key, 'tcbInfo')
  checkSignature(parsed.source.qeIdentity, parsed.source.qeIdentitySignature, qe.key, 'qeIdentity')
  checkWindow(parsed.tcbInfo.issueDate, parsed.tcbInfo.nextUpdate, now, 'tcbInfo')
  checkWindow(parsed.qeIdentity.issueDate, parsed.qeIdentity.nextUpdate, now, 'qeIdentity')
  return parsed.crls === undefined ? [] : [parsed.crls.root, parsed.crls.pck]
}
