// Distinguished names as RFC 4514 text, the same for certificates and CRLs so they compare.
import type { AttestErrorCode } from '../errors.ts'
import { expect, fail, readOid, TAG, type Tlv, UNIVERSAL } from './der.ts'

const SHORT_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress',
}

const TELETEX_STRING = 20
const UNIVERSAL_STRING = 28
const BMP_STRING = 30
const STRING_TAGS: ReadonlySet<number> = new Set([
  TAG.utf8String,
  TAG.printableString,
  TAG.ia5String,
  TELETEX_STRING,
  BMP_STRING,
])
const utf8Decoder = new TextDecoder('utf-8', { fatal: true })

function stringValue(value: Tlv): string | undefined {
  if (value.tagClass !== UNIVERSAL || !STRING_TAGS.has(value.tag)) return undefined
  try {
    if (value.tag === BMP_STRING) {
      if (value.content.length % 2 !== 0) return undefined
      return Buffer.from(value.content).swap16().toString('utf16le')
    }
    if (value.tag === TAG.utf8String) return utf8Decoder.decode(value.content)
    return Buffer.from(value.content).toString('latin1')
  } catch {
    return undefined
  }
}

function escapeValue(text: string): string {
  let out = text.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`)
  out = [...out]
    .map((c) => {
      const code = c.charCodeAt(0)
      return code < 0x20 || code === 0x7f ? `\\${code.toString(16).padStart(2, '0')}` : c
    })
    .join('')
  if (out.startsWith('#') || out.startsWith(' ')) out = `\\${out}`
  if (out.endsWith(' ')) out = `${out.slice(0, -1)}\\ `
  return out
}

/** RFC 4514 text of a Name (most significant RDN last, as in `CN=…, O=…, C=US`). */
export function formatName(name: Tlv, code: AttestErrorCode, what: string): string {
  expect(name, TAG.sequence, code, what)
  const rdns: string[] = []
  for (const rdn of name.children) {
    expect(rdn, TAG.set, code, what)
    if (rdn.children.length === 0) fail(code, what)
    const parts: string[] = []
    for (const atv of rdn.children) {
      expect(atv, TAG.sequence, code, what)
      if (atv.children.length !== 2) fail(code, what)
      const oid = readOid(atv.children[0], code, what)
      const value = atv.children[1] as Tlv
      const text = stringValue(value)
      const key = SHORT_NAMES[oid] ?? oid
      parts.push(
        text === undefined || value.tag === UNIVERSAL_STRING
          ? `${key}=#${Buffer.from(value.bytes).toString('hex')}`
          : `${key}=${escapeValue(text)}`,
      )
    }
    rdns.push(parts.join('+'))
  }
  return rdns.reverse().join(', ')
}
