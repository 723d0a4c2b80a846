import { type KeyObject, X509Certificate } from 'node:crypto'
import { fromBase64 } from '@subrosa/core'
import { AttestError } from '../errors.ts'

/** Longest `x5c` accepted (leaf and intermediates). */
export const MAX_X5C_LENGTH = 8
const MAX_CERT_BASE64 = 16384

/**
 * Verify an `x5c` certificate chain (RFC 7515 §4.1.6: standard base64 DER, leaf first) against
 * pinned PEM roots at `now`, and return the leaf's public key. Each link must name its issuer,
 * be signed by it, and the issuer must be a CA; every certificate, and the root used, must be
 * valid at `now`. The chain may end in a pinned root itself (Azure Attestation publishes
 * self-signed signing certificates) or in a certificate a pinned root issued.
 *
 * @throws AttestError `ERR_ATTEST_TOKEN` for an `x5c` that is not a list of certificates,
 * `ERR_ATTEST_EXPIRED` for a certificate outside its validity, `ERR_ATTEST_CHAIN` for a broken
 * link or a chain that ends in no pinned root.
 */
export function verifyX5cChain(x5c: unknown, roots: readonly string[], now: Date): KeyObject {
  const chain = parseX5c(x5c)
  const trusted = parseRoots(roots)
  chain.forEach((cert, i) => {
    checkValidity(cert, now, `certificate ${i} of x5c`)
  })
  for (let i = 0; i + 1 < chain.length; i++) {
    const [child, parent] = [chain[i], chain[i + 1]] as [X509Certificate, X509Certificate]
    if (!issuedBy(child, parent)) {
      throw chainError(`x5c certificate ${i} is not issued and signed by certificate ${i + 1}`)
    }
  }
  const last = chain[chain.length - 1] as X509Certificate
  const anchored = trusted.some((root) => {
    if (root.raw.equals(last.raw)) return true
    if (!issuedBy(last, root)) return false
    checkValidity(root, now, 'the pinned root')
    return true
  })
  if (!anchored) throw chainError('x5c does not chain to a pinned root')
  return (chain[0] as X509Certificate).publicKey
}

function parseX5c(x5c: unknown): X509Certificate[] {
  if (!Array.isArray(x5c) || x5c.length === 0 || x5c.length > MAX_X5C_LENGTH) {
    throw tokenError(`x5c must be a list of 1..${MAX_X5C_LENGTH} certificates`)
  }
  return x5c.map((entry: unknown, i) => {
    const der =
      typeof entry === 'string' && entry.length <= MAX_CERT_BASE64 ? fromBase64(entry) : undefined
    if (der === undefined) throw tokenError(`x5c certificate ${i} is not base64`)
    try {
      return new X509Certificate(der)
    } catch (cause) {
      throw new AttestError('ERR_ATTEST_TOKEN', `x5c certificate ${i} is not a certificate`, {
        cause,
      })
    }
  })
}

function parseRoots(roots: readonly string[]): X509Certificate[] {
  return roots.map((pem, i) => {
    try {
      return new X509Certificate(pem)
    } catch (cause) {
      throw new AttestError('ERR_ATTEST_CHAIN', `Pinned root ${i} is not a PEM certificate`, {
        cause,
      })
    }
  })
}

/** Names, signature (and key identifiers, key usage as OpenSSL checks them), CA flag. */
function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return parent.ca && child.checkIssued(parent) && child.verify(parent.publicKey)
  } catch {
    return false
  }
}

function checkValidity(cert: X509Certificate, now: Date, what: string): void {
  const from = Date.parse(cert.validFrom)
  const to = Date.parse(cert.validTo)
  const t = now.getTime()
  if (!(from <= t && t <= to)) {
    throw new AttestError('ERR_ATTEST_EXPIRED', `${what} is not valid at verification time`)
  }
}

function tokenError(message: string): AttestError {
  return new AttestError('ERR_ATTEST_TOKEN', message)
}

function chainError(message: string): AttestError {
  return new AttestError('ERR_ATTEST_CHAIN', message)
}
