// Extension access (raw extnValue) and the two constraints path validation needs.
import { type Certificate, certificateExtensions } from './certificate.ts'
import { decodeDer, expect, fail, readBitString, readBoolean, readSmallInt, TAG } from './der.ts'

export const OID_BASIC_CONSTRAINTS = '2.5.29.19'
export const OID_KEY_USAGE = '2.5.29.15'

/**
 * The raw extnValue contents (the DER inside the OCTET STRING) of extension `oid`, if present.
 *
 * @example const sgx = extensionValue(pck, '1.2.840.113741.1.13.1')
 */
export function extensionValue(cert: Certificate, oid: string): Uint8Array | undefined {
  return certificateExtensions(cert).get(oid)?.value
}

/** Whether extension `oid` is marked critical (undefined when absent). */
export function extensionCritical(cert: Certificate, oid: string): boolean | undefined {
  return certificateExtensions(cert).get(oid)?.critical
}

/** OIDs of all extensions, in certificate order. */
export function extensionOids(cert: Certificate): string[] {
  return [...certificateExtensions(cert).keys()]
}

export type BasicConstraints = { readonly ca: boolean; readonly pathLen: number | undefined }

/**
 * basicConstraints, or undefined when the extension is absent.
 *
 * @throws AttestError `ERR_ATTEST_MALFORMED`
 */
export function basicConstraints(cert: Certificate): BasicConstraints | undefined {
  if (constraintsCache.has(cert)) return constraintsCache.get(cert)
  const result = readBasicConstraints(cert)
  constraintsCache.set(cert, result)
  return result
}

// Certificates are immutable once parsed; decoded extensions are kept per object.
const constraintsCache = new WeakMap<Certificate, BasicConstraints | undefined>()
const usageCache = new WeakMap<Certificate, ReadonlySet<KeyUsage> | undefined>()

function readBasicConstraints(cert: Certificate): BasicConstraints | undefined {
  const value = extensionValue(cert, OID_BASIC_CONSTRAINTS)
  if (value === undefined) return undefined
  const what = 'basicConstraints'
  const seq = expect(
    decodeDer(value, 'ERR_ATTEST_MALFORMED', what),
    TAG.sequence,
    'ERR_ATTEST_MALFORMED',
    what,
  )
  const [first, second, extra] = seq.children
  if (extra !== undefined) fail('ERR_ATTEST_MALFORMED', what)
  let ca = false
  let pathNode = first
  if (first?.tag === TAG.boolean) {
    ca = readBoolean(first, 'ERR_ATTEST_MALFORMED', what)
    pathNode = second
  } else if (second !== undefined) {
    fail('ERR_ATTEST_MALFORMED', what)
  }
  const pathLen =
    pathNode === undefined ? undefined : readSmallInt(pathNode, 'ERR_ATTEST_MALFORMED', what)
  if (pathLen !== undefined && !ca) fail('ERR_ATTEST_MALFORMED', `${what} (pathLen without cA)`)
  return { ca, pathLen }
}

export const KEY_USAGE_BITS = [
  'digitalSignature',
  'nonRepudiation',
  'keyEncipherment',
  'dataEncipherment',
  'keyAgreement',
  'keyCertSign',
  'cRLSign',
  'encipherOnly',
  'decipherOnly',
] as const

export type KeyUsage = (typeof KEY_USAGE_BITS)[number]

/**
 * keyUsage as the set of asserted bits, or undefined when the extension is absent.
 *
 * @throws AttestError `ERR_ATTEST_MALFORMED`
 */
export function keyUsage(cert: Certificate): ReadonlySet<KeyUsage> | undefined {
  if (usageCache.has(cert)) return usageCache.get(cert)
  const result = readKeyUsage(cert)
  usageCache.set(cert, result)
  return result
}

function readKeyUsage(cert: Certificate): ReadonlySet<KeyUsage> | undefined {
  const value = extensionValue(cert, OID_KEY_USAGE)
  if (value === undefined) return undefined
  const node = decodeDer(value, 'ERR_ATTEST_MALFORMED', 'keyUsage')
  const { bytes } = readBitString(node, 'ERR_ATTEST_MALFORMED', 'keyUsage', true)
  const usages = new Set<KeyUsage>()
  KEY_USAGE_BITS.forEach((name, bit) => {
    const byte = bytes[bit >> 3]
    if (byte !== undefined && (byte & (0x80 >> (bit & 7))) !== 0) usages.add(name)
  })
  return usages
}
