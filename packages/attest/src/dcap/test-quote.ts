// Test-only: re-serializes a parsed quote with parts replaced (PCK chain, QE report signature),
// to build synthetic quotes over real ones. Not exported from the package.
import { concatBytes, utf8 } from '@subrosa/core'
import type { Quote } from './quote.ts'

function u16(n: number): Uint8Array {
  const out = new Uint8Array(2)
  new DataView(out.buffer).setUint16(0, n, true)
  return out
}

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n, true)
  return out
}

export type QuoteParts = {
  readonly pckChainPem?: string
  readonly qeReport?: Uint8Array
  readonly qeReportSignature?: Uint8Array
  readonly qeAuthData?: Uint8Array
  readonly signedBytes?: Uint8Array
  readonly signature?: Uint8Array
  readonly attestationKey?: Uint8Array
}

/** The bytes of `quote` (without trailing padding) with `parts` replaced. */
export function serializeQuote(quote: Quote, parts: QuoteParts = {}): Uint8Array {
  const pem = utf8(parts.pckChainPem ?? quote.pckChainPem)
  const auth = parts.qeAuthData ?? quote.qeAuthData
  const qeSection = concatBytes(
    parts.qeReport ?? quote.qeReport.bytes,
    parts.qeReportSignature ?? quote.qeReportSignature,
    u16(auth.length),
    auth,
    u16(5),
    u32(pem.length),
    pem,
  )
  const certification =
    quote.header.version === 3 ? qeSection : concatBytes(u16(6), u32(qeSection.length), qeSection)
  const signatureData = concatBytes(
    parts.signature ?? quote.signature,
    parts.attestationKey ?? quote.attestationKey,
    certification,
  )
  return concatBytes(
    parts.signedBytes ?? quote.signedBytes,
    u32(signatureData.length),
    signatureData,
  )
}
