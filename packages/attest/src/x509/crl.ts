// CRLs: strict DER parse with asn1js, signature over the exact TBSCertList with node:crypto.
import { AttestError } from '../errors.ts'
import type { Certificate } from './certificate.ts'
import {
  CONTEXT,
  decodeDer,
  expect,
  fail,
  readBitString,
  readBoolean,
  readIntegerHex,
  readOid,
  readSmallInt,
  readTime,
  TAG,
  type Tlv,
  UNIVERSAL,
} from './der.ts'
import { formatName } from './name.ts'
import { readSignatureAlgorithm, type SignatureAlgorithm, verifySignature } from './signature.ts'

/** A parsed CRL. Serials use the same form as `Certificate.serial`. */
export type Crl = {
  readonly der: Uint8Array
  readonly issuer: string
  readonly thisUpdate: Date
  readonly nextUpdate: Date | undefined
  readonly revokedSerials: ReadonlySet<string>
}

const CODE = 'ERR_ATTEST_CRL'
const WHAT = 'CRL'
// Extensions whose meaning does not change which certificates are revoked: CRL number,
// authority key id, issuing distribution point (Intel marks it critical), delta indicator is not.
const KNOWN_CRITICAL_CRL_EXTENSIONS: ReadonlySet<string> = new Set(['2.5.29.28'])
const KNOWN_CRITICAL_ENTRY_EXTENSIONS: ReadonlySet<string> = new Set()

type CrlParts = {
  readonly tbs: Uint8Array
  readonly algorithm: SignatureAlgorithm
  readonly signature: Uint8Array
}
const parts = new WeakMap<Crl, CrlParts>()
// Issuers whose signature over a CRL verified, per CRL object (parsed CRLs are immutable).
const verifiedBy = new WeakMap<Crl, WeakSet<Certificate>>()

function checkExtensions(list: Tlv | undefined, known: ReadonlySet<string>, what: string): void {
  const seq = expect(list, TAG.sequence, CODE, what)
  if (seq.children.length === 0) fail(CODE, what)
  const seen = new Set<string>()
  for (const ext of seq.children) {
    expect(ext, TAG.sequence, CODE, what)
    const oid = readOid(ext.children[0], CODE, what)
    if (seen.has(oid)) fail(CODE, `${what} (duplicate ${oid})`)
    seen.add(oid)
    const critical = ext.children.length === 3
    if (ext.children.length !== 2 && !critical) fail(CODE, what)
    if (critical && !readBoolean(ext.children[1], CODE, what)) fail(CODE, what)
    expect(ext.children[critical ? 2 : 1], TAG.octetString, CODE, what)
    if (critical && !known.has(oid)) fail(CODE, `${what} (unknown critical extension ${oid})`)
  }
}

function isTime(node: Tlv | undefined): boolean {
  return (
    node !== undefined &&
    node.tagClass === UNIVERSAL &&
    (node.tag === TAG.utcTime || node.tag === TAG.generalizedTime)
  )
}

/**
 * Parses a DER CRL (v1 or v2). Strict: DER only, unknown critical extensions refused.
 *
 * @example const crl = parseCrl(collateral.pckCrl)
 * @throws AttestError `ERR_ATTEST_CRL`
 */
export function parseCrl(der: Uint8Array): Crl {
  if (!(der instanceof Uint8Array)) fail(CODE, WHAT)
  const bytes = new Uint8Array(der)
  const root = expect(decodeDer(bytes, CODE, WHAT), TAG.sequence, CODE, WHAT)
  if (root.children.length !== 3) fail(CODE, WHAT)
  const tbs = expect(root.children[0], TAG.sequence, CODE, WHAT)
  const algorithm = readSignatureAlgorithm(root.children[1], CODE, `${WHAT} signature algorithm`)
  const signature = readBitString(root.children[2], CODE, `${WHAT} signature`).bytes
  const fields = [...tbs.children]
  let v2 = false
  if (fields[0]?.tag === TAG.integer && fields[0].tagClass === UNIVERSAL) {
    if (readSmallInt(fields.shift(), CODE, `${WHAT} version`) !== 1) fail(CODE, `${WHAT} version`)
    v2 = true
  }
  const [innerAlgorithm, issuerNode, thisUpdateNode, ...rest] = fields
  if (
    innerAlgorithm === undefined ||
    toHexString(innerAlgorithm) !== toHexString(root.children[1] as Tlv)
  ) {
    fail(CODE, `${WHAT} (signature algorithm mismatch)`)
  }
  const issuer = formatName(issuerNode as Tlv, CODE, `${WHAT} issuer`)
  const thisUpdate = readTime(thisUpdateNode, CODE, `${WHAT} thisUpdate`)
  const nextUpdate = isTime(rest[0])
    ? readTime(rest.shift(), CODE, `${WHAT} nextUpdate`)
    : undefined
  const revokedSerials = new Set<string>()
  if (rest[0]?.tagClass === UNIVERSAL && rest[0].tag === TAG.sequence) {
    const list = rest.shift() as Tlv
    if (list.children.length === 0) fail(CODE, `${WHAT} (empty revokedCertificates)`)
    for (const entry of list.children) {
      expect(entry, TAG.sequence, CODE, `${WHAT} entry`)
      const [serial, date, extensions, extra] = entry.children
      revokedSerials.add(readIntegerHex(serial, CODE, `${WHAT} entry serial`))
      readTime(date, CODE, `${WHAT} revocationDate`)
      if (extra !== undefined || (extensions !== undefined && !v2)) fail(CODE, `${WHAT} entry`)
      if (extensions !== undefined) {
        checkExtensions(extensions, KNOWN_CRITICAL_ENTRY_EXTENSIONS, `${WHAT} entry extensions`)
      }
    }
  }
  const crlExtensions = rest.shift()
  if (crlExtensions !== undefined) {
    expect(crlExtensions, 0, CODE, `${WHAT} extensions`, CONTEXT)
    if (!v2 || crlExtensions.children.length !== 1) fail(CODE, `${WHAT} extensions`)
    checkExtensions(crlExtensions.children[0], KNOWN_CRITICAL_CRL_EXTENSIONS, `${WHAT} extensions`)
  }
  if (rest.length !== 0) fail(CODE, WHAT)
  const crl: Crl = Object.freeze({ der: bytes, issuer, thisUpdate, nextUpdate, revokedSerials })
  parts.set(crl, { tbs: tbs.bytes, algorithm, signature })
  return crl
}

function toHexString(node: Tlv): string {
  return Buffer.from(node.bytes).toString('hex')
}

/**
 * Checks that `issuer` signed the CRL (over the exact TBSCertList bytes) and that it is current.
 *
 * @example verifyCrl(parseCrl(rootCaCrl), intelRoot, now)
 * @throws AttestError `ERR_ATTEST_CRL` (other issuer, bad signature),
 *   `ERR_ATTEST_COLLATERAL_EXPIRED` (now outside thisUpdate..nextUpdate)
 */
export function verifyCrl(crl: Crl, issuer: Certificate, now: Date): void {
  const own = parts.has(crl) ? crl : parseCrl(crl.der)
  const signed = parts.get(own)
  if (signed === undefined) fail(CODE, WHAT)
  if (own.nextUpdate === undefined) fail(CODE, `${WHAT} (no nextUpdate)`)
  if (own.issuer !== issuer.subject) {
    throw new AttestError(CODE, 'Cannot use CRL: its issuer is not the given certificate', {
      details: { crlIssuer: own.issuer, certificate: issuer.subject },
    })
  }
  if (
    verifiedBy.get(own)?.has(issuer) !== true &&
    !verifySignature(signed.algorithm, signed.tbs, issuer.x509.publicKey, signed.signature)
  ) {
    throw new AttestError(
      CODE,
      'Cannot use CRL: its signature does not verify with the issuer key',
      {
        details: { issuer: own.issuer },
      },
    )
  }
  const issuers = verifiedBy.get(own) ?? new WeakSet<Certificate>()
  issuers.add(issuer)
  verifiedBy.set(own, issuers)
  const time = now.getTime()
  if (Number.isNaN(time) || time < own.thisUpdate.getTime() || time > own.nextUpdate.getTime()) {
    throw new AttestError('ERR_ATTEST_COLLATERAL_EXPIRED', 'CRL is not current at the given time', {
      details: {
        issuer: own.issuer,
        thisUpdate: own.thisUpdate.toISOString(),
        nextUpdate: own.nextUpdate.toISOString(),
      },
    })
  }
}
