// Strict DER on top of asn1js: asn1js decodes (BER), this module refuses everything DER forbids
// (indefinite or non-minimal lengths, constructed strings, trailing bytes) and turns the tree
// into plain, typed nodes the parsers walk. Internal to x509/ and dcap/; not exported.
import * as asn1js from 'asn1js'
import { AttestError, type AttestErrorCode } from '../errors.ts'

export const UNIVERSAL = 0
export const CONTEXT = 2

export const TAG = {
  boolean: 1,
  integer: 2,
  bitString: 3,
  octetString: 4,
  null: 5,
  oid: 6,
  enumerated: 10,
  utf8String: 12,
  sequence: 16,
  set: 17,
  printableString: 19,
  ia5String: 22,
  utcTime: 23,
  generalizedTime: 24,
} as const

/** One DER TLV: `bytes` is the whole encoding, `content` the value octets. */
export type Tlv = {
  readonly tagClass: number
  readonly tag: number
  readonly constructed: boolean
  readonly bytes: Uint8Array
  readonly content: Uint8Array
  readonly children: readonly Tlv[]
}

/** Throws `code` with a message naming `what`. */
export function fail(code: AttestErrorCode, what: string): never {
  throw new AttestError(code, `Cannot parse ${what}: not valid DER`)
}

const ASN1JS_CLASS_OFFSET = 1 // asn1js numbers classes 1..4; DER numbers them 0..3
const MAX_DEPTH = 32

/** Decodes exactly one DER value spanning all of `bytes`. */
export function decodeDer(bytes: Uint8Array, code: AttestErrorCode, what: string): Tlv {
  if (bytes.length === 0) fail(code, what)
  let decoded: ReturnType<typeof asn1js.fromBER>
  try {
    decoded = asn1js.fromBER(bytes, { parseEmbedded: false, copyInput: false, maxDepth: MAX_DEPTH })
  } catch {
    return fail(code, what)
  }
  if (decoded.offset !== bytes.length || decoded.result.error !== '') fail(code, what)
  return convert(decoded.result, bytes, 0, { code, what }, 0)
}

type Context = { readonly code: AttestErrorCode; readonly what: string }

/** Converts an asn1js block found at `offset` of `input`; byte fields are views of `input`. */
function convert(
  block: asn1js.AsnType,
  input: Uint8Array,
  offset: number,
  context: Context,
  depth: number,
): Tlv {
  const { code, what } = context
  if (depth > MAX_DEPTH || block.error !== '') fail(code, what)
  const { idBlock, lenBlock } = block
  if (lenBlock.isIndefiniteForm) fail(code, what)
  const length = lenBlock.length
  // Minimal length octets: short form below 128, else the fewest bytes, no leading zero.
  if (lenBlock.blockLength !== lengthOctets(length)) fail(code, what)
  const header = idBlock.blockLength + lenBlock.blockLength
  if (header + length !== block.valueBeforeDecodeView.length) fail(code, what)
  if (offset + header + length > input.length) fail(code, what)
  const bytes = input.subarray(offset, offset + header + length)
  const tagClass = idBlock.tagClass - ASN1JS_CLASS_OFFSET
  const constructed = idBlock.isConstructed
  const tag = idBlock.tagNumber
  if (tagClass === UNIVERSAL && constructed !== (tag === TAG.sequence || tag === TAG.set)) {
    fail(code, what)
  }
  const children: Tlv[] = []
  if (constructed) {
    const value = (block.valueBlock as { value?: unknown }).value
    if (!Array.isArray(value)) fail(code, what)
    let at = offset + header
    for (const child of value as asn1js.AsnType[]) {
      const node = convert(child, input, at, context, depth + 1)
      children.push(node)
      at += node.bytes.length
    }
    if (at !== offset + header + length) fail(code, what)
  }
  return { tagClass, tag, constructed, bytes, content: bytes.subarray(header), children }
}

function lengthOctets(length: number): number {
  if (length < 128) return 1
  let octets = 1
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) octets++
  return octets
}

/** The node if it has the universal `tag` (or the context tag when `tagClass` is CONTEXT). */
export function expect(
  node: Tlv | undefined,
  tag: number,
  code: AttestErrorCode,
  what: string,
  tagClass = UNIVERSAL,
): Tlv {
  if (node === undefined || node.tagClass !== tagClass || node.tag !== tag) fail(code, what)
  return node
}

/** Dotted OID text of an OBJECT IDENTIFIER node. */
export function readOid(node: Tlv | undefined, code: AttestErrorCode, what: string): string {
  const { content } = expect(node, TAG.oid, code, what)
  if (content.length === 0 || (content[content.length - 1] as number) & 0x80) fail(code, what)
  const arcs: number[] = []
  let value = 0
  let start = true
  for (const byte of content) {
    if (start && byte === 0x80) fail(code, what) // non-minimal arc
    value = value * 128 + (byte & 0x7f)
    if (value > Number.MAX_SAFE_INTEGER / 128) fail(code, what)
    start = (byte & 0x80) === 0
    if (start) {
      if (arcs.length === 0)
        arcs.push(value < 80 ? Math.floor(value / 40) : 2, value < 80 ? value % 40 : value - 80)
      else arcs.push(value)
      value = 0
    }
  }
  return arcs.join('.')
}

/** Magnitude of a minimally encoded INTEGER (or ENUMERATED) as lower-case hex, no leading zeros. */
export function readIntegerHex(
  node: Tlv | undefined,
  code: AttestErrorCode,
  what: string,
  tag: number = TAG.integer,
): string {
  const { content } = expect(node, tag, code, what)
  if (content.length === 0) fail(code, what)
  if (content.length > 1) {
    const a = content[0] as number
    const b = content[1] as number
    if ((a === 0 && (b & 0x80) === 0) || (a === 0xff && (b & 0x80) !== 0)) fail(code, what)
  }
  const hex = Buffer.from(content).toString('hex').replace(/^0+/, '')
  return hex === '' ? '0' : hex
}

/** A small non-negative INTEGER or ENUMERATED. */
export function readSmallInt(
  node: Tlv | undefined,
  code: AttestErrorCode,
  what: string,
  tag: number = TAG.integer,
): number {
  const hex = readIntegerHex(node, code, what, tag)
  const content = (node as Tlv).content
  if ((content[0] as number) & 0x80 || hex.length > 12) fail(code, what)
  return Number.parseInt(hex, 16)
}

/** DER BOOLEAN: exactly 0x00 or 0xff. */
export function readBoolean(node: Tlv | undefined, code: AttestErrorCode, what: string): boolean {
  const { content } = expect(node, TAG.boolean, code, what)
  if (content.length !== 1 || (content[0] !== 0 && content[0] !== 0xff)) fail(code, what)
  return content[0] === 0xff
}

/** BIT STRING contents, requiring zero unused bits unless `allowUnused`. */
export function readBitString(
  node: Tlv | undefined,
  code: AttestErrorCode,
  what: string,
  allowUnused = false,
): { readonly bytes: Uint8Array; readonly unusedBits: number } {
  const { content } = expect(node, TAG.bitString, code, what)
  const unusedBits = content[0]
  if (unusedBits === undefined || unusedBits > 7) fail(code, what)
  if (unusedBits !== 0 && (!allowUnused || content.length === 1)) fail(code, what)
  const bytes = content.subarray(1)
  if (unusedBits !== 0 && ((bytes[bytes.length - 1] as number) & ((1 << unusedBits) - 1)) !== 0) {
    fail(code, what)
  }
  return { bytes, unusedBits }
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/

/** UTCTime (RFC 5280: YY < 50 is 20YY) or GeneralizedTime, seconds and Z required. */
export function readTime(node: Tlv | undefined, code: AttestErrorCode, what: string): Date {
  if (node === undefined || node.tagClass !== UNIVERSAL) fail(code, what)
  const text = Buffer.from(node.content).toString('latin1')
  const utc = node.tag === TAG.utcTime
  const match = (
    utc ? UTC_TIME : node.tag === TAG.generalizedTime ? GENERALIZED_TIME : undefined
  )?.exec(text)
  if (match === undefined || match === null) fail(code, what)
  let year = Number(match[1])
  if (utc) year += year < 50 ? 2000 : 1900
  const [month, day, hour, minute, second] = match.slice(2).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ]
  const ms = Date.UTC(year, month - 1, day, hour, minute, second)
  const date = new Date(ms)
  if (
    Number.isNaN(ms) ||
    date.getUTCMonth() !== month - 1 ||
    date.getUTCDate() !== day ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  ) {
    fail(code, what)
  }
  return date
}
