// X.509 certificates: node:crypto's X509Certificate for signatures, asn1js (strict DER) for fields.
import { createHash, X509Certificate } from 'node:crypto'
import { toHex } from '@subrosa/core'
import { AttestError } from '../errors.ts'
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
} from './der.ts'
import { formatName } from './name.ts'
import { decodePem } from './pem.ts'
import { readSignatureAlgorithm } from './signature.ts'

/** A parsed certificate. Names are RFC 4514 text; hex is lower case. */
export type Certificate = {
  readonly der: Uint8Array
  readonly x509: X509Certificate
  /** Lower-case hex of the serial number's magnitude, no leading zeros. */
  readonly serial: string
  readonly subject: string
  readonly issuer: string
  readonly notBefore: Date
  readonly notAfter: Date
  /** SHA-256 of the DER, hex. */
  readonly sha256: string
  /** SHA-256 of the SubjectPublicKeyInfo DER, hex. */
  readonly spkiSha256: string
}

/** One extension as it appears in the certificate. */
export type Extension = { readonly critical: boolean; readonly value: Uint8Array }

const parts = new WeakMap<Certificate, ReadonlyMap<string, Extension>>()
const CODE = 'ERR_ATTEST_MALFORMED'
const WHAT = 'certificate'

function readExtensions(node: Tlv): Map<string, Extension> {
  const extensions = new Map<string, Extension>()
  const list = expect(node.children[0], TAG.sequence, CODE, WHAT)
  if (node.children.length !== 1 || list.children.length === 0) fail(CODE, WHAT)
  for (const ext of list.children) {
    expect(ext, TAG.sequence, CODE, WHAT)
    const oid = readOid(ext.children[0], CODE, `${WHAT} extension`)
    const hasCritical = ext.children.length === 3
    if (ext.children.length !== 2 && !hasCritical) fail(CODE, WHAT)
    // DER: DEFAULT FALSE is never encoded.
    if (hasCritical && !readBoolean(ext.children[1], CODE, WHAT)) fail(CODE, WHAT)
    const value = expect(ext.children[hasCritical ? 2 : 1], TAG.octetString, CODE, WHAT).content
    if (extensions.has(oid)) fail(CODE, `${WHAT} (duplicate extension ${oid})`)
    extensions.set(oid, { critical: hasCritical, value })
  }
  return extensions
}

function parseDer(der: Uint8Array): Certificate {
  const root = decodeDer(der, CODE, WHAT)
  expect(root, TAG.sequence, CODE, WHAT)
  if (root.children.length !== 3) fail(CODE, WHAT)
  const tbs = expect(root.children[0], TAG.sequence, CODE, WHAT)
  readSignatureAlgorithm(root.children[1], CODE, `${WHAT} signature algorithm`)
  readBitString(root.children[2], CODE, `${WHAT} signature`)
  const fields = [...tbs.children]
  let version = 0
  if (fields[0]?.tagClass === CONTEXT && fields[0].tag === 0) {
    const node = fields.shift() as Tlv
    if (node.children.length !== 1) fail(CODE, WHAT)
    version = readSmallInt(node.children[0], CODE, `${WHAT} version`)
    if (version < 1 || version > 2) fail(CODE, `${WHAT} version`)
  }
  const [serialNode, algorithm, issuerNode, validity, subjectNode, spki, ...rest] = fields
  const serial = readIntegerHex(serialNode, CODE, `${WHAT} serial`)
  if (!equalDer(expect(algorithm, TAG.sequence, CODE, WHAT), root.children[1] as Tlv)) {
    fail(CODE, `${WHAT} (signature algorithm mismatch)`)
  }
  const issuer = formatName(issuerNode as Tlv, CODE, `${WHAT} issuer`)
  const period = expect(validity, TAG.sequence, CODE, WHAT)
  if (period.children.length !== 2) fail(CODE, WHAT)
  const notBefore = readTime(period.children[0], CODE, `${WHAT} notBefore`)
  const notAfter = readTime(period.children[1], CODE, `${WHAT} notAfter`)
  const subject = formatName(subjectNode as Tlv, CODE, `${WHAT} subject`)
  const spkiBytes = expect(spki, TAG.sequence, CODE, WHAT).bytes
  let extensions = new Map<string, Extension>()
  let lastTag = 0
  for (const node of rest) {
    if (node.tagClass !== CONTEXT || node.tag <= lastTag || node.tag > 3) fail(CODE, WHAT)
    lastTag = node.tag
    if (node.tag === 3) {
      if (version !== 2) fail(CODE, `${WHAT} (extensions need version 3)`)
      extensions = readExtensions(node)
    }
  }
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(der)
  } catch (cause) {
    throw new AttestError(CODE, 'Cannot parse certificate: rejected by node:crypto', { cause })
  }
  const certificate: Certificate = Object.freeze({
    der,
    x509,
    serial,
    subject,
    issuer,
    notBefore,
    notAfter,
    sha256: createHash('sha256').update(der).digest('hex'),
    spkiSha256: createHash('sha256').update(spkiBytes).digest('hex'),
  })
  parts.set(certificate, extensions)
  return certificate
}

function equalDer(a: Tlv, b: Tlv): boolean {
  return toHex(a.bytes) === toHex(b.bytes)
}

/**
 * Parses one certificate, DER bytes or a single PEM block. Strict DER; names as RFC 4514 text.
 *
 * @example const root = parseCertificate(INTEL_SGX_ROOT_CA_PEM)
 * @throws AttestError `ERR_ATTEST_MALFORMED`
 */
export function parseCertificate(input: Uint8Array | string): Certificate {
  if (typeof input === 'string') {
    const blocks = decodePem(input)
    if (blocks.length !== 1) fail(CODE, `${WHAT} (expected one PEM block)`)
    return parseDer(blocks[0] as Uint8Array)
  }
  if (!(input instanceof Uint8Array)) fail(CODE, WHAT)
  return parseDer(new Uint8Array(input))
}

/**
 * Parses a PEM chain (e.g. the PCK chain of a quote, leaf first). A trailing NUL is tolerated.
 *
 * @throws AttestError `ERR_ATTEST_MALFORMED` when empty or garbled
 */
export function parsePemChain(text: string): Certificate[] {
  const blocks = decodePem(text)
  if (blocks.length === 0) fail(CODE, 'PEM chain (no certificate)')
  return blocks.map(parseDer)
}

/** The extensions of a certificate, by OID. */
export function certificateExtensions(cert: Certificate): ReadonlyMap<string, Extension> {
  const cached = parts.get(cert)
  if (cached !== undefined) return cached
  const parsed = parseDer(cert.der)
  const extensions = parts.get(parsed) as ReadonlyMap<string, Extension>
  parts.set(cert, extensions)
  return extensions
}
