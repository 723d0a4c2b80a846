import { type Certificate, parsePemChain as parseAttestPemChain, parseCrl } from '@subrosa/attest'
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
 * The certificates of a PEM chain, parsed strictly (the verifier's parser); `undefined` when the
 * text holds none, or a block that is not a certificate.
 */
export function parsePemChain(text: string): Certificate[] | undefined {
  try {
    const certs = parseAttestPemChain(text)
    const declared = text.match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0
    return certs.length > 0 && certs.length === declared ? certs : undefined
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
export function earliestExpiry(certs: readonly Certificate[]): Date | undefined {
  const times = certs.map((c) => c.notAfter.getTime()).filter((t) => Number.isFinite(t))
  return times.length === 0 ? undefined : new Date(Math.min(...times))
}

/**
 * `thisUpdate` and `nextUpdate` of a DER X.509 CRL (RFC 5280 §5.1), read by the verifier's strict
 * parser; `undefined` when the bytes are not a CRL. The signature is not checked here.
 */
export function crlDates(der: Uint8Array): { thisUpdate: Date; nextUpdate?: Date } | undefined {
  try {
    const { thisUpdate, nextUpdate } = parseCrl(der)
    return nextUpdate === undefined ? { thisUpdate } : { thisUpdate, nextUpdate }
  } catch {
    return undefined
  }
}

/** A CRL body as DER: DER as is, or the first `X509 CRL` PEM block, or hex text of DER. */
export function crlDer(body: Uint8Array): Uint8Array | undefined {
  if (body[0] === 0x30) return body
  const text = Buffer.from(body).toString('latin1').trim()
  if (text.startsWith('-----BEGIN X509 CRL-----')) return pemBlocks(text, 'X509 CRL')[0]
  if (/^(?:[0-9a-fA-F]{2})+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'))
  return undefined
}
