import { fromBase64, fromHex, fromUtf8, toBase64 } from '@subrosa/core'
import { SdkError } from './errors.ts'

/** Evidence kinds `attest verify` and the broker take. */
export type EvidenceType = 'sim' | 'sgx' | 'tdx' | 'snp' | 'token'

/** Evidence as the KBS `primary_evidence` of its type. */
export type WireEvidence = { readonly tee: EvidenceType; readonly evidence: unknown }

const SNP_REPORT_SIZE = 0x4a0
const SIM_TYP = 'subrosa-sim-evidence+jws'

/**
 * Recognize evidence from a file's bytes and shape it as the KBS `primary_evidence` of its type:
 * a DCAP quote (binary, header version 3-5, key type 2; TEE type 0x81 means TDX), an SEV-SNP
 * report (1184+ bytes, version 2-5, signature algorithm 1; raw or hex), a JWT (attestation token,
 * or sim evidence by its `typ`), or JSON already in wire form (`{quote}`, `{report, vek}`, `{token}`).
 *
 * @throws SdkError `ERR_SDK_CONFIG` when the bytes are none of these, or contradict `type`.
 */
export function detectEvidence(bytes: Uint8Array, type?: EvidenceType): WireEvidence {
  const text = asText(bytes)
  if (text !== undefined) {
    const trimmed = text.trim()
    if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(trimmed)) {
      return expect(
        type,
        jwsIsSim(trimmed)
          ? { tee: 'sim', evidence: trimmed }
          : { tee: 'token', evidence: { token: trimmed } },
      )
    }
    if (trimmed.startsWith('{')) return expect(type, fromJson(trimmed, type))
    const hex = fromHex(trimmed.replace(/\s+/g, ''))
    if (hex !== undefined && hex.length > 0) return detectEvidence(hex, type)
  }
  return expect(type, fromBinary(bytes))
}

function fromBinary(bytes: Uint8Array): WireEvidence {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (bytes.length >= 48) {
    const version = view.getUint16(0, true)
    const keyType = view.getUint16(2, true)
    const teeType = view.getUint32(4, true)
    if (version >= 3 && version <= 5 && keyType === 2 && (teeType === 0 || teeType === 0x81)) {
      return { tee: teeType === 0x81 ? 'tdx' : 'sgx', evidence: { quote: toBase64(bytes) } }
    }
  }
  if (bytes.length >= SNP_REPORT_SIZE) {
    const version = view.getUint32(0, true)
    if (version >= 2 && version <= 5 && view.getUint32(0x34, true) === 1) {
      return { tee: 'snp', evidence: { report: toBase64(bytes.subarray(0, SNP_REPORT_SIZE)) } }
    }
  }
  throw new SdkError(
    'ERR_SDK_CONFIG',
    'The evidence is not a DCAP quote, an SEV-SNP report, a JWT or wire JSON',
  )
}

function fromJson(text: string, type: EvidenceType | undefined): WireEvidence {
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONFIG', 'The evidence file is not valid JSON', { cause })
  }
  const o = (typeof doc === 'object' && doc !== null ? doc : {}) as Record<string, unknown>
  if (typeof o.tee === 'string' && 'evidence' in o)
    return { tee: o.tee as EvidenceType, evidence: o.evidence }
  if (typeof o.token === 'string') return { tee: 'token', evidence: o }
  if (typeof o.report === 'string') return { tee: 'snp', evidence: o }
  if (typeof o.quote === 'string') {
    const quote = fromBase64(o.quote)
    if (quote === undefined) throw new SdkError('ERR_SDK_CONFIG', 'quote is not base64')
    return { tee: type === 'sgx' || type === 'tdx' ? type : fromBinary(quote).tee, evidence: o }
  }
  throw new SdkError(
    'ERR_SDK_CONFIG',
    'Evidence JSON needs quote, report, token, or {tee, evidence}',
  )
}

function expect(type: EvidenceType | undefined, found: WireEvidence): WireEvidence {
  if (type !== undefined && type !== found.tee) {
    throw new SdkError('ERR_SDK_CONFIG', `--type ${type} given, but the evidence is ${found.tee}`)
  }
  return found
}

function jwsIsSim(jws: string): boolean {
  try {
    const header = JSON.parse(
      Buffer.from(jws.split('.')[0] as string, 'base64url').toString('utf8'),
    ) as { typ?: unknown }
    return header.typ === SIM_TYP
  } catch {
    return false
  }
}

function asText(bytes: Uint8Array): string | undefined {
  if (bytes.length > 1 << 20) return undefined
  try {
    const text = fromUtf8(bytes)
    return isPrintableAscii(text) ? text : undefined
  } catch {
    return undefined
  }
}

/** True when every character is printable ASCII, tab, LF or CR. */
function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x09 || c === 0x0a || c === 0x0d) continue
    if (c < 0x20 || c > 0x7e) return false
  }
  return true
}
