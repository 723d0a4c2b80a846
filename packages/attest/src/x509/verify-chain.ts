// Path validation to a pinned anchor: signatures, names, CA constraints, key usage, validity, CRLs.
import { AttestError } from '../errors.ts'
import { type Certificate, certificateExtensions } from './certificate.ts'
import { type Crl, verifyCrl } from './crl.ts'
import { basicConstraints, keyUsage, OID_BASIC_CONSTRAINTS, OID_KEY_USAGE } from './extensions.ts'

export type VerifyChainOptions = {
  /** Pinned anchors, matched by DER or SPKI; a root inside the chain is never trusted as such. */
  readonly roots: readonly Certificate[]
  readonly now: Date
  /** CRLs to apply; each one whose issuer issued a certificate of the path is verified and used. */
  readonly crls?: readonly Crl[]
  /**
   * What the first certificate must be: an end entity (default; not a CA), or a CA, e.g. when
   * validating the issuer chain of a CRL. A CA leaf is checked like any issuer.
   */
  readonly leaf?: 'end-entity' | 'ca'
}

// Critical extensions this validator understands or that do not restrict the path here.
const KNOWN_CRITICAL: ReadonlySet<string> = new Set([
  OID_BASIC_CONSTRAINTS,
  OID_KEY_USAGE,
  '2.5.29.37', // extKeyUsage: a leaf constraint left to the caller
  '2.5.29.17', // subjectAltName
  '2.5.29.32', // certificatePolicies
])

function chainError(message: string, subject: string): AttestError {
  return new AttestError('ERR_ATTEST_CHAIN', message, { details: { certificate: subject } })
}

// Link signatures that verified, per certificate object (parsed certificates are immutable).
const verifiedLinks = new WeakMap<Certificate, WeakSet<Certificate>>()

function signedBy(cert: Certificate, issuer: Certificate): boolean {
  if (verifiedLinks.get(cert)?.has(issuer) === true) return true
  let ok = false
  try {
    ok = cert.x509.verify(issuer.x509.publicKey)
  } catch {
    ok = false
  }
  if (ok) {
    const set = verifiedLinks.get(cert) ?? new WeakSet<Certificate>()
    set.add(issuer)
    verifiedLinks.set(cert, set)
  }
  return ok
}

function isPinned(cert: Certificate, roots: readonly Certificate[]): Certificate | undefined {
  return roots.find((r) => r.sha256 === cert.sha256 || r.spkiSha256 === cert.spkiSha256)
}

function findPath(chain: readonly Certificate[], roots: readonly Certificate[]): Certificate[] {
  const path: Certificate[] = [chain[0] as Certificate]
  for (const cert of chain.slice(1)) {
    const anchor = isPinned(cert, roots)
    if (anchor !== undefined) return [...path, anchor]
    path.push(cert)
  }
  const last = path[path.length - 1] as Certificate
  const anchor = roots.find((r) => r.subject === last.issuer && signedBy(last, r))
  if (anchor === undefined) {
    throw new AttestError('ERR_ATTEST_UNTRUSTED_ROOT', 'Chain does not end in a pinned root', {
      details: { certificate: last.subject, issuer: last.issuer },
    })
  }
  return [...path, anchor]
}

function checkCritical(cert: Certificate): void {
  for (const [oid, ext] of certificateExtensions(cert)) {
    if (ext.critical && !KNOWN_CRITICAL.has(oid)) {
      throw chainError(`Certificate has an unknown critical extension ${oid}`, cert.subject)
    }
  }
}

function checkIssuer(issuer: Certificate, caBelow: number): void {
  const constraints = basicConstraints(issuer)
  if (constraints === undefined || !constraints.ca) {
    throw chainError('Issuer is not a CA (basicConstraints)', issuer.subject)
  }
  if (constraints.pathLen !== undefined && caBelow > constraints.pathLen) {
    throw chainError('Path is longer than the issuer pathLen allows', issuer.subject)
  }
  const usage = keyUsage(issuer)
  if (usage !== undefined && !usage.has('keyCertSign')) {
    throw chainError('Issuer key usage lacks keyCertSign', issuer.subject)
  }
}

function checkValidity(cert: Certificate, now: Date): void {
  const t = now.getTime()
  if (Number.isNaN(t) || t < cert.notBefore.getTime() || t > cert.notAfter.getTime()) {
    throw new AttestError('ERR_ATTEST_EXPIRED', 'Certificate is not valid at the given time', {
      details: {
        certificate: cert.subject,
        notBefore: cert.notBefore.toISOString(),
        notAfter: cert.notAfter.toISOString(),
      },
    })
  }
}

/**
 * Validates `chain` (leaf first; with or without its root) up to one of `roots` and returns the
 * path leaf..root, the root being the pinned copy. Every CRL whose issuer issued a certificate
 * of the path is verified against that issuer (`verifyCrl`) before its serials are applied.
 *
 * @example const path = verifyChain(parsePemChain(pem), { roots: [intelRoot], now, crls })
 * @throws AttestError `ERR_ATTEST_CHAIN`, `ERR_ATTEST_UNTRUSTED_ROOT`, `ERR_ATTEST_EXPIRED`,
 *   `ERR_ATTEST_REVOKED`; from a CRL: `ERR_ATTEST_CRL`, `ERR_ATTEST_COLLATERAL_EXPIRED`
 */
export function verifyChain(
  chain: readonly Certificate[],
  options: VerifyChainOptions,
): Certificate[] {
  if (chain.length === 0) {
    throw new AttestError('ERR_ATTEST_CHAIN', 'Certificate chain is empty')
  }
  if (options.roots.length === 0) {
    throw new AttestError('ERR_ATTEST_UNTRUSTED_ROOT', 'No pinned root given')
  }
  const path = findPath(chain, options.roots)
  const leaf = path[0] as Certificate
  if (options.leaf === 'ca') checkIssuer(leaf, 0)
  else if (basicConstraints(leaf)?.ca === true) {
    throw chainError('Leaf certificate is a CA', leaf.subject)
  }
  for (let i = 0; i < path.length - 1; i++) {
    const child = path[i] as Certificate
    const issuer = path[i + 1] as Certificate
    if (child.issuer !== issuer.subject || !child.x509.checkIssued(issuer.x509)) {
      throw chainError('Certificate issuer does not name the next certificate', child.subject)
    }
    if (!signedBy(child, issuer)) {
      throw chainError('Certificate signature does not verify with its issuer key', child.subject)
    }
    checkIssuer(issuer, Math.max(0, i))
  }
  for (const cert of path) {
    checkCritical(cert)
    checkValidity(cert, options.now)
  }
  for (let i = 0; i < path.length - 1; i++) {
    const cert = path[i] as Certificate
    const issuer = path[i + 1] as Certificate
    for (const crl of options.crls ?? []) {
      if (crl.issuer !== cert.issuer) continue
      verifyCrl(crl, issuer, options.now)
      if (crl.revokedSerials.has(cert.serial)) {
        throw new AttestError('ERR_ATTEST_REVOKED', 'Certificate is listed in its issuer CRL', {
          details: { certificate: cert.subject, serial: cert.serial },
        })
      }
    }
  }
  return path
}
