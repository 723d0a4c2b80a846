import { X509Certificate } from 'node:crypto'
import { fromBase64 } from '@subrosa/core'

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*?)-----END \1-----/g

/** The DER of each PEM block with the given label (`CERTIFICATE`, `X509 CRL`), in order. */
export function pemBlocks(text: string, label: string): Uint8Array[] {
  const out: Uint8Array[] = []
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (match[1] !== label) continue
    const der = fromBase64((match[2] ?? '').replace(/\s+/g, ''))
    if (der !== undefined && der.length > 0) out.push(der)
  }
  return out
}

/**
 * The certificates of a PEM chain, parsed; `undefined` when the text holds none, or a block that
 * is not a certificate.
 */
export function parsePemChain(text: string): X509Certificate[] | undefined {
  const blocks = pemBlocks(text, 'CERTIFICATE')
  const declared = text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0
  if (blocks.length === 0 || blocks.length !== declared) return undefined
  try {
    return blocks.map((der) => new X509Certificate(der))
  } catch {
    return undefined
  }
}

/** PEM of a DER certificate. */
export function certificatePem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64')
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`
}

/** The earliest `notAfter` of some certificates. */
export function earliestExpiry(certs: readonly X509Certificate[]): Date | undefined {
  const times = certs.map((c) => Date.parse(c.validTo)).filter((t) => Number.isFinite(t))
  return times.length === 0 ? undefined : new Date(Math.min(...times))
}

type Tlv = { readonly tag: number; readonly start: number; readonly end: number }

/** One DER TLV at `offset` (definite lengths only); `undefined` when it does not fit. */
function readTlv(der: Uint8Array, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined
  const tag = der[offset] as number
  let length = der[offset + 1] as number
  let start = offset + 2
  if (length & 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 4 || start + count > limit) return undefined
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + (der[start + i] as number)
    start += count
  }
  const end = start + length
  return end > limit ? undefined : { tag, start, end }
}

function readTime(der: Uint8Array, tlv: Tlv): Date | undefined {
  const text = Buffer.from(der.subarray(tlv.start, tlv.end)).toString('latin1')
  const match =
    tlv.tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : tlv.tag === 0x18
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null
  if (match === null) return undefined
  const [y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0] = match.slice(1).map(Number)
  // RFC 5280 §4.1.2.5.1: a two-digit year YY >= 50 is 19YY, otherwise 20YY.
  const year = tlv.tag === 0x17 ? (y < 50 ? 2000 + y : 1900 + y) : y
  const time = Date.UTC(year, mo - 1, d, h, mi, sec)
  return Number.isNaN(time) ? undefined : new Date(time)
}

/**
 * `thisUpdate` and `nextUpdate` of a DER X.509 CRL (RFC 5280 §5.1); `undefined` when the bytes
 * do not have a CRL's shape. The signature is not checked here (the verifier does that).
 */
export function crlDates(der: Uint8Array): { thisUpdate: Date; nextUpdate?: Date } | undefined {
  const outer = readTlv(der, 0, der.length)
  if (outer?.tag !== 0x30 || outer.end !== der.length) return undefined
  const tbs = readTlv(der, outer.start, outer.end)
  if (tbs?.tag !== 0x30) return undefined
  let field = readTlv(der, tbs.start, tbs.end)
  if (field?.tag === 0x02) field = readTlv(der, field.end, tbs.end) // version
  if (field?.tag !== 0x30) return undefined // signature algorithm
  const issuer = readTlv(der, field.end, tbs.end)
  if (issuer?.tag !== 0x30) return undefined
  const thisTlv = readTlv(der, issuer.end, tbs.end)
  const thisUpdate = thisTlv && readTime(der, thisTlv)
  if (thisTlv === undefined || thisUpdate === undefined) return undefined
  const nextTlv = readTlv(der, thisTlv.end, tbs.end)
  const nextUpdate =
    nextTlv && (nextTlv.tag === 0x17 || nextTlv.tag === 0x18) ? readTime(der, nextTlv) : undefined
  return nextUpdate === undefined ? { thisUpdate } : { thisUpdate, nextUpdate }
}

/** A CRL body as DER: DER as is, or the first `X509 CRL` PEM block, or hex text of DER. */
export function crlDer(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === 0x30) return body
  const text = Buffer.from(body).toString('latin1').trim()
  if (text.startsWith('-----BEGIN X509 CRL-----')) return pemBlocks(text, 'X509 CRL')[0]
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'))
  return undefined
}
