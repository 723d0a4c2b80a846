// The SEV-SNP certificate table (GHCB specification 56421, MSG_REPORT_REQ / extended guest
// request) that configfs-tsm returns as `auxblob` when the provider is `sev_guest`: entries of
// { GUID (16 bytes), offset (u32 LE), length (u32 LE) }, ended by an all-zero entry, offsets from
// the start of the table, followed by the DER certificates.
import { LauncherError } from '../errors.ts'

/** What one entry of the table holds, by its GUID. */
export type SevCertificateKind = 'vcek' | 'vlek' | 'ask' | 'ark' | 'other'

export type SevCertificate = {
  readonly kind: SevCertificateKind
  /** Lower-case GUID text, as found (RFC 4122 byte order). */
  readonly guid: string
  readonly der: Uint8Array
}

const ENTRY_SIZE = 24
const GUID_SIZE = 16
const MAX_ENTRIES = 64

/** GUIDs of the certificates a table may hold (GHCB specification 56421). */
export const SEV_CERT_GUIDS = {
  vcek: '63da758d-e664-4564-adc5-f4b93be8accd',
  vlek: 'a8074bc2-a25a-483e-aae6-39c045a0b8a1',
  ask: '4ab7b379-bbac-4fe4-a02f-05aef327c782',
  ark: 'c0b406a4-a803-4952-9743-3fb6014cd0ae',
} as const

const KNOWN: ReadonlyMap<string, SevCertificateKind> = new Map(
  Object.entries(SEV_CERT_GUIDS).map(([kind, guid]) => [guid, kind as SevCertificateKind]),
)

function malformed(why: string): LauncherError {
  return new LauncherError('ERR_LAUNCHER_TEE_REPORT', `The SEV-SNP certificate table ${why}`)
}

function guidText(bytes: Uint8Array): string {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The same GUID with its first three fields byte-swapped (the little-endian EFI layout). */
function swappedGuid(bytes: Uint8Array): Uint8Array {
  const b = Array.from(bytes)
  return Uint8Array.from([
    ...b.slice(0, 4).reverse(),
    ...b.slice(4, 6).reverse(),
    ...b.slice(6, 8).reverse(),
    ...b.slice(8),
  ])
}

/**
 * Parse a certificate table. GUIDs are matched in RFC 4122 byte order and, as a fallback, in the
 * little-endian EFI layout; unknown GUIDs are kept as `other`. Nothing is verified here: the
 * broker verifies the VCEK/VLEK chain to AMD's pinned roots.
 *
 * @example parseSevCertTable(auxblob).find((c) => c.kind === 'vcek')?.der
 * @throws LauncherError `ERR_LAUNCHER_TEE_REPORT` for a table without its terminator or with an
 * entry outside the blob.
 */
export function parseSevCertTable(table: Uint8Array): SevCertificate[] {
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength)
  const out: SevCertificate[] = []
  for (let i = 0; ; i++) {
    if (i >= MAX_ENTRIES) throw malformed(`has more than ${MAX_ENTRIES} entries`)
    const at = i * ENTRY_SIZE
    if (at + ENTRY_SIZE > table.length) throw malformed('ends before its terminating entry')
    const guid = table.subarray(at, at + GUID_SIZE)
    const offset = view.getUint32(at + GUID_SIZE, true)
    const length = view.getUint32(at + GUID_SIZE + 4, true)
    if (offset === 0 && length === 0 && guid.every((b) => b === 0)) break
    const tableEnd = (i + 2) * ENTRY_SIZE // this entry and at least the terminator
    if (length === 0 || offset < tableEnd || offset + length > table.length) {
      throw malformed(`entry ${i} points outside the blob`)
    }
    if (table[offset] !== 0x30) throw malformed(`entry ${i} is not a DER certificate`)
    const text = guidText(guid)
    const swapped = guidText(swappedGuid(guid))
    const kind = KNOWN.get(text) ?? KNOWN.get(swapped)
    out.push({
      kind: kind ?? 'other',
      guid: KNOWN.has(text) || kind === undefined ? text : swapped,
      der: table.slice(offset, offset + length),
    })
  }
  return out
}
