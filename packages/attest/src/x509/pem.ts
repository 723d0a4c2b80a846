// PEM text to DER blocks (CERTIFICATE only), strict base64, nothing but whitespace around blocks.
import { fromBase64 } from '@subrosa/core'
import { fail } from './der.ts'

const BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]*?)-----END CERTIFICATE-----/g

/** DER of every CERTIFICATE block; `ERR_ATTEST_MALFORMED` on anything else in the text. */
export function decodePem(text: string): Uint8Array[] {
  if (typeof text !== 'string') fail('ERR_ATTEST_MALFORMED', 'PEM')
  const body = text.replace(/\0+$/, '')
  const blocks: Uint8Array[] = []
  let end = 0
  for (const match of body.matchAll(BLOCK)) {
    if (body.slice(end, match.index).trim() !== '') fail('ERR_ATTEST_MALFORMED', 'PEM')
    const der = fromBase64((match[1] as string).replace(/\s+/g, ''))
    if (der === undefined || der.length === 0) fail('ERR_ATTEST_MALFORMED', 'PEM base64')
    blocks.push(der)
    end = match.index + match[0].length
  }
  if (body.slice(end).trim() !== '') fail('ERR_ATTEST_MALFORMED', 'PEM')
  return blocks
}
