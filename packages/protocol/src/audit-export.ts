import type { JWK } from 'jose'
import { z } from 'zod'
import {
  AUDIT_EXPORT_FORMAT,
  AUDIT_GENESIS,
  type AuditCheckpoint,
  auditDataHash,
  auditEntryHash,
  verifyAuditCheckpoint,
} from './audit.ts'
import { ProtocolError } from './errors.ts'

const hex64 = z.string().regex(/^[0-9a-f]{64}$/)
const headerLine = z.strictObject({
  format: z.literal(AUDIT_EXPORT_FORMAT),
  issuer: z.string(),
  exportedAt: z.string(),
  /** Namespaces whose entries carry their data; others carry only `dataHash`. */
  namespaces: z.array(z.string()),
})
const entryLine = z.strictObject({
  type: z.literal('entry'),
  seq: z.number().int().min(1),
  at: z.string(),
  kind: z.string(),
  namespace: z.string().nullable(),
  dataHash: hex64,
  data: z.record(z.string(), z.unknown()).optional(),
  prevHash: hex64,
  hash: hex64,
})
const checkpointLine = z.strictObject({
  type: z.literal('checkpoint'),
  seq: z.number().int().min(1),
  head: hex64,
  at: z.string(),
  signature: z.string().max(4096),
})

/** One line of an audit export (JSON lines; the first line is the header). */
export type AuditExportLine =
  | z.infer<typeof headerLine>
  | z.infer<typeof entryLine>
  | z.infer<typeof checkpointLine>

type Parsed = {
  header: z.infer<typeof headerLine>
  entries: z.infer<typeof entryLine>[]
  checkpoints: AuditCheckpoint[]
}

/**
 * Parse an audit export: a header line, then entry and checkpoint lines.
 *
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` naming the line.
 */
export function parseAuditExport(text: string): Parsed {
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  const parseLine = <T>(schema: z.ZodType<T>, i: number): T => {
    try {
      return schema.parse(JSON.parse(lines[i] as string))
    } catch (cause) {
      throw new ProtocolError(
        'ERR_PROTOCOL_MALFORMED',
        `Audit export line ${i + 1} is not a valid ${i === 0 ? 'header' : 'entry or checkpoint'}`,
        { cause, details: { line: i + 1 } },
      )
    }
  }
  if (lines.length === 0)
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'The audit export is empty')
  const header = parseLine(headerLine, 0)
  const entries: z.infer<typeof entryLine>[] = []
  const checkpoints: AuditCheckpoint[] = []
  const body = z.discriminatedUnion('type', [entryLine, checkpointLine])
  for (let i = 1; i < lines.length; i++) {
    const line = parseLine(body, i)
    if (line.type === 'entry') entries.push(line)
    else {
      const { type: _t, ...checkpoint } = line
      checkpoints.push(checkpoint)
    }
  }
  return { header, entries, checkpoints }
}

/** What a verified export holds. */
export type AuditExportSummary = {
  issuer: string
  entries: number
  /** Entries of other namespaces, present only by their data hash. */
  withheld: number
  head: string
  checkpoints: number
}

/**
 * Verify an audit export against the broker's public keys: every entry links to its predecessor
 * and hashes to its recorded value, sequence numbers run 1..n without gaps, present data matches
 * its hash, every checkpoint is signed by the broker and names the hash of its entry, and the last
 * checkpoint covers the last entry (so entries cannot be cut from the end either).
 *
 * @throws ProtocolError `ERR_AUDIT_CHAIN` (details.seq: the first bad entry),
 * `ERR_AUDIT_CHECKPOINT`, `ERR_PROTOCOL_MALFORMED`.
 */
export async function verifyAuditExport(
  text: string,
  jwks: { readonly keys: readonly JWK[] },
): Promise<AuditExportSummary> {
  const { header, entries, checkpoints } = parseAuditExport(text)
  let prev = AUDIT_GENESIS
  let withheld = 0
  const hashes = new Map<number, string>()
  entries.forEach((e, i) => {
    if (e.seq !== i + 1) chainError(e.seq, `entry ${i + 1} is missing or out of order`)
    if (e.prevHash !== prev) chainError(e.seq, 'it does not link to the entry before it')
    if (e.data === undefined) withheld++
    else if (auditDataHash(e.data) !== e.dataHash) chainError(e.seq, 'its data was changed')
    if (auditEntryHash(e) !== e.hash) chainError(e.seq, 'its fields were changed')
    hashes.set(e.seq, e.hash)
    prev = e.hash
  })
  for (const c of checkpoints) {
    const { issuer } = await verifyAuditCheckpoint(c, jwks)
    if (issuer !== header.issuer) {
      throw new ProtocolError(
        'ERR_AUDIT_CHECKPOINT',
        `Audit checkpoint at entry ${c.seq} was signed for another issuer`,
        { details: { seq: c.seq } },
      )
    }
    const at = hashes.get(c.seq)
    if (at === undefined) chainError(c.seq, 'a signed checkpoint names an entry that is missing')
    if (at !== c.head) chainError(c.seq, 'it differs from what the broker signed')
  }
  const last = entries.at(-1)
  if (last !== undefined && !checkpoints.some((c) => c.seq === last.seq)) {
    throw new ProtocolError(
      'ERR_AUDIT_CHECKPOINT',
      `No signed checkpoint covers the last entry (${last.seq}): entries may have been cut`,
      { details: { seq: last.seq } },
    )
  }
  return {
    issuer: header.issuer,
    entries: entries.length,
    withheld,
    head: prev,
    checkpoints: checkpoints.length,
  }
}

function chainError(seq: number, why: string): never {
  throw new ProtocolError('ERR_AUDIT_CHAIN', `Audit entry ${seq}: ${why}`, { details: { seq } })
}
