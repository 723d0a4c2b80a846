// DCAP collateral as signed by Intel, keeping the exact signed bytes of TCB Info / QE Identity.
import { fromHex } from '@subrosa/core'
import { AttestError } from '../errors.ts'

/**
 * Collateral for one quote. `tcbInfo` and `qeIdentity` are the raw JSON text of the signed
 * objects, exactly as signed (never re-serialized). The CRL fields may be left out only when the
 * verifier runs with `crls: 'not-provided'`.
 */
export type DcapCollateral = {
  readonly tcbInfo: string
  /** Hex of the 64-byte ECDSA P-256 r ‖ s. */
  readonly tcbInfoSignature: string
  /** PEM: TCB signing certificate, then (optionally) the root. */
  readonly tcbInfoIssuerChain: string
  readonly qeIdentity: string
  readonly qeIdentitySignature: string
  readonly qeIdentityIssuerChain: string
  /** DER of the PCK CRL of the PCK's CA (processor or platform). */
  readonly pckCrl?: Uint8Array
  readonly pckCrlIssuerChain?: string
  /** DER of the Intel SGX Root CA CRL. */
  readonly rootCaCrl?: Uint8Array
}

function invalid(message: string, field: string): AttestError {
  return new AttestError('ERR_ATTEST_COLLATERAL', `Cannot read collateral: ${message}`, {
    details: { field },
  })
}

/**
 * Reads dcap-qvl's `QuoteCollateralV3` JSON (`tcb_info` raw string, `root_ca_crl` hex DER, …).
 *
 * @example const collateral = collateralFromDcapQvlJson(text)
 * @throws AttestError `ERR_ATTEST_COLLATERAL`
 */
export function collateralFromDcapQvlJson(text: string): DcapCollateral {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw invalid('not JSON', 'collateral')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('not a JSON object', 'collateral')
  }
  const record = parsed as Record<string, unknown>
  const text_ = (key: string): string => {
    const value = record[key]
    if (typeof value !== 'string' || value === '') throw invalid(`${key} is missing`, key)
    return value
  }
  const der = (key: string): Uint8Array => {
    const bytes = fromHex(text_(key))
    if (bytes === undefined) throw invalid(`${key} is not hex`, key)
    return bytes
  }
  return {
    tcbInfo: text_('tcb_info'),
    tcbInfoSignature: text_('tcb_info_signature'),
    tcbInfoIssuerChain: text_('tcb_info_issuer_chain'),
    qeIdentity: text_('qe_identity'),
    qeIdentitySignature: text_('qe_identity_signature'),
    qeIdentityIssuerChain: text_('qe_identity_issuer_chain'),
    pckCrl: der('pck_crl'),
    pckCrlIssuerChain: text_('pck_crl_issuer_chain'),
    rootCaCrl: der('root_ca_crl'),
  }
}

const WHITESPACE = /[ \t\n\r]/

/** End index (exclusive) of the JSON value starting at `start` (after whitespace). */
function skipValue(text: string, start: number): number {
  const open = text[start]
  if (open === '"') {
    for (let i = start + 1; i < text.length; i++) {
      if (text[i] === '\\') i++
      else if (text[i] === '"') return i + 1
    }
    return -1
  }
  if (open === '{' || open === '[') {
    let depth = 0
    for (let i = start; i < text.length; i++) {
      const c = text[i]
      if (c === '"') {
        i = skipValue(text, i) - 1
        if (i < 0) return -1
      } else if (c === '{' || c === '[') depth++
      else if (c === '}' || c === ']') {
        depth--
        if (depth === 0) return i + 1
      }
    }
    return -1
  }
  let i = start
  while (
    i < text.length &&
    !WHITESPACE.test(text[i] as string) &&
    !',}]'.includes(text[i] as string)
  )
    i++
  return i === start ? -1 : i
}

/**
 * Cuts the signed object out of a PCS response body (`{"tcbInfo":{…},"signature":"…"}`) by
 * brace matching, without re-serializing it.
 *
 * @example const { raw, signature } = extractSignedObject(body, 'tcbInfo')
 * @throws AttestError `ERR_ATTEST_COLLATERAL`
 */
export function extractSignedObject(
  body: string,
  key: 'tcbInfo' | 'enclaveIdentity',
): { raw: string; signature: string } {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw invalid('response body is not JSON', key)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalid('response body is not an object', key)
  }
  const keys = Object.keys(parsed).sort()
  const signature = (parsed as Record<string, unknown>).signature
  if (keys.join() !== [key, 'signature'].sort().join() || typeof signature !== 'string') {
    throw invalid(`response body must hold exactly ${key} and signature`, key)
  }
  // Walk the top-level members of the (valid) JSON object to find the value's exact span.
  let i = body.indexOf('{') + 1
  const found: string[] = []
  for (;;) {
    while (WHITESPACE.test(body[i] ?? '')) i++
    const keyEnd = skipValue(body, i)
    const name = JSON.parse(body.slice(i, keyEnd)) as string
    i = body.indexOf(':', keyEnd) + 1
    while (WHITESPACE.test(body[i] ?? '')) i++
    const valueEnd = skipValue(body, i)
    if (name === key) found.push(body.slice(i, valueEnd))
    i = valueEnd
    while (WHITESPACE.test(body[i] ?? '')) i++
    if (body[i] !== ',') break
    i++
  }
  const raw = found[0]
  if (found.length !== 1 || raw === undefined || !raw.startsWith('{')) {
    throw invalid(`${key} must appear once, as an object`, key)
  }
  return { raw, signature }
}
