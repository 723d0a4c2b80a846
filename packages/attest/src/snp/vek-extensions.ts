import { AttestError } from '../errors.ts'
import { productFromName, type SnpProduct } from './tcb.ts'

/** AMD's arc for VCEK/VLEK certificate extensions. */
export const AMD_VEK_OID_PREFIX = '1.3.6.1.4.1.3704.1'

/** The VCEK/VLEK extensions (AMD KDS specification). */
export const VEK_OIDS = {
  structVersion: `${AMD_VEK_OID_PREFIX}.1`,
  productName: `${AMD_VEK_OID_PREFIX}.2`,
  blSpl: `${AMD_VEK_OID_PREFIX}.3.1`,
  teeSpl: `${AMD_VEK_OID_PREFIX}.3.2`,
  snpSpl: `${AMD_VEK_OID_PREFIX}.3.3`,
  ucodeSpl: `${AMD_VEK_OID_PREFIX}.3.8`,
  fmcSpl: `${AMD_VEK_OID_PREFIX}.3.9`,
  hwId: `${AMD_VEK_OID_PREFIX}.4`,
  cspId: `${AMD_VEK_OID_PREFIX}.5`,
} as const

/** CHIP_ID / hwID length; Turin VCEKs carry an 8-byte hwID (the start of CHIP_ID). */
const HWID_SIZE = 64
const TURIN_HWID_SIZE = 8

const TAG_INTEGER = 0x02
const TAG_OCTET_STRING = 0x04
const TAG_IA5_STRING = 0x16
const MAX_STRING = 1024

/** The decoded KDS extensions of a VCEK or VLEK certificate. */
export type VekExtensions = {
  /** VCEK when the certificate carries hwID, VLEK when it carries cspID. */
  readonly kind: 'vcek' | 'vlek'
  readonly structVersion: number
  /** E.g. "Milan-B0", "Genoa", "Milan" (VLEK). */
  readonly productName: string
  /** The product of `productName`, when known. */
  readonly product?: SnpProduct
  /** The security patch levels the key is bound to; `fmc` only when the certificate has fmcSPL. */
  readonly tcb: {
    readonly bootloader: number
    readonly tee: number
    readonly snp: number
    readonly microcode: number
    readonly fmc?: number
  }
  /** VCEK only: 64 bytes, or 8 on Turin. */
  readonly hwId?: Uint8Array
  /** VLEK only: the cloud provider's identity. */
  readonly cspId?: string
}

function malformed(name: string, why: string): AttestError {
  return new AttestError('ERR_ATTEST_MALFORMED', `VCEK/VLEK extension ${name} ${why}`, {
    details: { field: name },
  })
}

/** Read one DER TLV that spans all of `der`; returns its tag and contents. */
function readTlv(der: Uint8Array, name: string): { tag: number; value: Uint8Array } {
  if (der.length < 2) throw malformed(name, 'is truncated')
  const tag = der[0] as number
  const first = der[1] as number
  let length = first
  let header = 2
  if (first === 0x81 || first === 0x82) {
    const octets = first & 0x7f
    if (der.length < 2 + octets) throw malformed(name, 'is truncated')
    length = octets === 1 ? (der[2] as number) : ((der[2] as number) << 8) | (der[3] as number)
    const minimum = octets === 1 ? 0x80 : 0x100
    if (length < minimum) throw malformed(name, 'has a non-minimal DER length')
    header = 2 + octets
  } else if (first >= 0x80) {
    throw malformed(name, 'has an unsupported DER length')
  }
  if (header + length !== der.length) throw malformed(name, 'has a wrong length or trailing bytes')
  return { tag, value: der.subarray(header) }
}

/** A DER INTEGER in 0..255 (`02 01 xx`, or `02 02 00 xx` for 0x80..0xFF). */
function readSpl(der: Uint8Array | undefined, name: string): number {
  if (der === undefined) throw malformed(name, 'is missing')
  const { tag, value } = readTlv(der, name)
  if (tag !== TAG_INTEGER) throw malformed(name, 'is not an INTEGER')
  if (value.length === 1 && (value[0] as number) < 0x80) return value[0] as number
  if (value.length === 2 && value[0] === 0 && (value[1] as number) >= 0x80)
    return value[1] as number
  throw malformed(name, 'is not a DER INTEGER in 0..255')
}

function readIa5(der: Uint8Array, name: string): string {
  const { tag, value } = readTlv(der, name)
  if (tag !== TAG_IA5_STRING) throw malformed(name, 'is not an IA5String')
  if (value.length === 0 || value.length > MAX_STRING) throw malformed(name, 'has a bad length')
  let text = ''
  for (const c of value) {
    if (c < 0x20 || c > 0x7e) throw malformed(name, 'has a non-printable character')
    text += String.fromCharCode(c)
  }
  return text
}

/** hwID: raw bytes as AMD issues them, or wrapped in a DER OCTET STRING. */
function readHwId(der: Uint8Array): Uint8Array {
  if (der.length === HWID_SIZE || der.length === TURIN_HWID_SIZE) return der.slice()
  const { tag, value } = readTlv(der, 'hwID')
  if (
    tag !== TAG_OCTET_STRING ||
    (value.length !== HWID_SIZE && value.length !== TURIN_HWID_SIZE)
  ) {
    throw malformed('hwID', 'is not 64 (or 8) bytes')
  }
  return value.slice()
}

/**
 * Decode the AMD KDS extensions of a VCEK or VLEK from an accessor that returns an
 * extension's value (the contents of extnValue) by OID. Exactly one of hwID (VCEK) and cspID
 * (VLEK) must be present; Turin certificates must carry fmcSPL.
 *
 * @example decodeVekExtensions((oid) => extensionValue(cert, oid))
 * @throws AttestError `ERR_ATTEST_MALFORMED` naming the extension.
 */
export function decodeVekExtensions(
  extension: (oid: string) => Uint8Array | undefined,
): VekExtensions {
  const structVersion = readSpl(extension(VEK_OIDS.structVersion), 'structVersion')
  const nameDer = extension(VEK_OIDS.productName)
  if (nameDer === undefined) throw malformed('productName', 'is missing')
  const productName = readIa5(nameDer, 'productName')
  const product = productFromName(productName)
  const fmcDer = extension(VEK_OIDS.fmcSpl)
  if (product === 'Turin' && fmcDer === undefined) throw malformed('fmcSPL', 'is missing')
  const tcb = {
    bootloader: readSpl(extension(VEK_OIDS.blSpl), 'blSPL'),
    tee: readSpl(extension(VEK_OIDS.teeSpl), 'teeSPL'),
    snp: readSpl(extension(VEK_OIDS.snpSpl), 'snpSPL'),
    microcode: readSpl(extension(VEK_OIDS.ucodeSpl), 'ucodeSPL'),
    ...(fmcDer === undefined ? {} : { fmc: readSpl(fmcDer, 'fmcSPL') }),
  }
  const hwIdDer = extension(VEK_OIDS.hwId)
  const cspIdDer = extension(VEK_OIDS.cspId)
  if ((hwIdDer === undefined) === (cspIdDer === undefined)) {
    throw malformed('hwID/cspID', 'must be exactly one of the two')
  }
  const common = { structVersion, productName, ...(product === undefined ? {} : { product }), tcb }
  if (hwIdDer !== undefined) {
    const hwId = readHwId(hwIdDer)
    if (hwId.length === TURIN_HWID_SIZE && product !== 'Turin') {
      throw malformed('hwID', 'is 8 bytes on a product other than Turin')
    }
    return { kind: 'vcek', ...common, hwId }
  }
  return { kind: 'vlek', ...common, cspId: readIa5(cspIdDer as Uint8Array, 'cspID') }
}
