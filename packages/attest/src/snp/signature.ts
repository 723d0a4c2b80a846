import { type KeyObject, verify } from 'node:crypto'
import { AttestError } from '../errors.ts'
import type { SnpReport } from './report.ts'

/** P-384 scalars are 48 bytes; the report stores them in 72-byte little-endian fields. */
const P384_SCALAR_SIZE = 48

function signatureError(why: string): AttestError {
  return new AttestError('ERR_ATTEST_SIGNATURE', `SNP report signature does not verify: ${why}`)
}

/** A 72-byte little-endian scalar as 48 big-endian bytes; undefined when it does not fit. */
function toBigEndian48(littleEndian: Uint8Array): Uint8Array | undefined {
  for (let i = P384_SCALAR_SIZE; i < littleEndian.length; i++) {
    if (littleEndian[i] !== 0) return undefined
  }
  return littleEndian.slice(0, P384_SCALAR_SIZE).reverse()
}

/**
 * Verify the report's ECDSA P-384 / SHA-384 signature over bytes 0x000..0x29F with the VCEK or
 * VLEK public key. R and S are converted from 72-byte little-endian to IEEE P1363 `r‖s`.
 *
 * @example verifySnpReportSignature(parseSnpReport(bytes), vek.x509.publicKey)
 * @throws AttestError `ERR_ATTEST_SIGNATURE` when the key is not a P-384 key, when R or S does
 * not fit 48 bytes, or when the signature does not verify.
 */
export function verifySnpReportSignature(report: SnpReport, key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw signatureError('the VCEK/VLEK key is not an ECDSA P-384 key')
  }
  const r = toBigEndian48(report.signature.r)
  const s = toBigEndian48(report.signature.s)
  if (r === undefined || s === undefined) throw signatureError('R or S exceeds 48 bytes')
  const rs = new Uint8Array(2 * P384_SCALAR_SIZE)
  rs.set(r, 0)
  rs.set(s, P384_SCALAR_SIZE)
  let ok: boolean
  try {
    ok = verify('sha384', report.signed, { key, dsaEncoding: 'ieee-p1363' }, rs)
  } catch {
    ok = false
  }
  if (!ok) throw signatureError('not signed by the VCEK/VLEK key')
}
