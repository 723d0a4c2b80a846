import type { Clock } from '@subrosa/core'
import {
  type AuditEntry,
  auditDataHash,
  auditEntryHash,
  AUDIT_GENESIS as GENESIS,
} from '@subrosa/protocol'
import { groupCommitter } from './store/group-commit.ts'
import type { Db } from './store/store.ts'

/** What a component records; `data` holds identifiers and decisions, never secret values. */
export type AuditRecord = {
  readonly kind: string
  readonly namespace?: string | undefined
  readonly data: Record<string, unknown>
}

type Row = {
  seq: number | string
  at: Date
  kind: string
  namespace: string | null
  data: Record<string, unknown>
  prev_hash: string
  hash: string
}

/**
 * Append an entry to the hash-chained, append-only audit log: `hash = SHA-256(canonical JSON of
 * {seq, at, kind, namespace, dataHash, prevHash})` (`auditEntryHash`), `dataHash` is SHA-256 of
 * the canonical data, and `prevHash` is the previous entry's hash.
 */
export async function appendAudit(db: Db, clock: Clock, record: AuditRecord): Promise<AuditEntry> {
  // Outside a caller's transaction, concurrent appends share one transaction (group commit).
  if (db.inTransaction !== true) return appendGrouped(db, { clock, record })
  const [entry] = await appendEntries(db, [{ clock, record }])
  return entry as AuditEntry
}

type Append = { readonly clock: Clock; readonly record: AuditRecord }

const appendGrouped = groupCommitter<Append, AuditEntry>(appendEntries)

/**
 * The transaction-scoped advisory lock every append takes before it reads the chain's head
 * ('SubA'; the store's migration lock is 'Subr').
 */
const AUDIT_CHAIN_LOCK = 0x5375_6241

/**
 * Chain `appends` after the current head, in order, in two round trips whatever their number:
 * lock and read the head, then insert every row at once.
 */
async function appendEntries(db: Db, appends: readonly Append[]): Promise<AuditEntry[]> {
  return db.transaction(async (tx) => {
    // Lock the chain and read its head in one round trip. An advisory lock rather than LOCK TABLE
    // in EXCLUSIVE mode, a "strong" lock that sends every other session's locks on audit_log
    // through PostgreSQL's shared lock table while it is held or awaited: the bench ran about 6%
    // more flows per second with the advisory lock (ADR 0033).
    const [, head] = await tx.script(
      `SELECT pg_advisory_xact_lock(${AUDIT_CHAIN_LOCK}); SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`,
    )
    const last = head?.rows[0] as { seq: number | string; hash: string } | undefined
    let seq = last === undefined ? 0 : Number(last.seq)
    let prevHash = last?.hash ?? GENESIS
    const entries = appends.map(({ clock, record }): AuditEntry => {
      seq++
      const at = clock().toISOString()
      const namespace = record.namespace ?? null
      const hash = entryHash({ seq, at, kind: record.kind, namespace, data: record.data, prevHash })
      const entry = { seq, at, kind: record.kind, namespace, data: record.data, prevHash, hash }
      prevHash = hash
      return entry
    })
    await tx.query(
      'INSERT INTO audit_log (seq, at, kind, namespace, data, prev_hash, hash) SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[])',
      [
        entries.map((e) => e.seq),
        entries.map((e) => e.at),
        entries.map((e) => e.kind),
        entries.map((e) => e.namespace),
        entries.map((e) => JSON.stringify(e.data)),
        entries.map((e) => e.prevHash),
        entries.map((e) => e.hash),
      ],
    )
    return entries
  })
}

/** Entries after `after` (exclusive), optionally only those of the given namespaces. */
export async function listAudit(
  db: Db,
  options: { after?: number; limit?: number; namespaces?: readonly string[] },
): Promise<AuditEntry[]> {
  const limit = Math.min(Math.max(options.limit ?? 1000, 1), 10_000)
  const rows =
    options.namespaces === undefined
      ? (
          await db.query<Row>('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [
            options.after ?? 0,
            limit,
          ])
        ).rows
      : (
          await db.query<Row>(
            'SELECT * FROM audit_log WHERE seq > $1 AND (namespace IS NULL OR namespace = ANY($2)) ORDER BY seq LIMIT $3',
            [options.after ?? 0, options.namespaces, limit],
          )
        ).rows
  return rows.map(toEntry)
}

/** A verified place in the chain: an entry's sequence number and hash. */
export type ChainPoint = { readonly seq: number; readonly hash: string }

/**
 * Entries read per statement when verifying or exporting: memory stays bounded however long the
 * log.
 */
export const AUDIT_PAGE = 5000

/**
 * Recompute the chain, a page at a time: from the start, or after `from` (an entry whose hash is
 * vouched for otherwise, such as by a signed checkpoint). Returns the head hash and the log's
 * length when every entry links to its predecessor, hashes to its recorded value and follows
 * its predecessor's sequence number, otherwise the first broken sequence number. `onEntry` sees
 * every verified entry, in order.
 */
export async function verifyAuditChain(
  db: Db,
  options: {
    from?: ChainPoint
    onEntry?: (seq: number, hash: string) => void
    /** Entries per statement (default 5,000). */
    pageSize?: number
  } = {},
): Promise<{ ok: true; head: string; length: number } | { ok: false; brokenAt: number }> {
  let prev = options.from?.hash ?? GENESIS
  let expectedSeq = (options.from?.seq ?? 0) + 1
  const page = options.pageSize ?? AUDIT_PAGE
  for (;;) {
    const rows = (
      await db.query<Row>('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [
        expectedSeq - 1,
        page,
      ])
    ).rows
    for (const row of rows) {
      const e = toEntry(row)
      const recomputed = entryHash({
        seq: e.seq,
        at: e.at,
        kind: e.kind,
        namespace: e.namespace,
        data: e.data,
        prevHash: e.prevHash,
      })
      if (e.seq !== expectedSeq || e.prevHash !== prev || recomputed !== e.hash)
        return { ok: false, brokenAt: e.seq }
      options.onEntry?.(e.seq, e.hash)
      prev = e.hash
      expectedSeq++
    }
    if (rows.length < page) break
  }
  return { ok: true, head: prev, length: expectedSeq - 1 }
}

function toEntry(row: Row): AuditEntry {
  return {
    seq: Number(row.seq),
    at: new Date(row.at).toISOString(),
    kind: row.kind,
    namespace: row.namespace,
    data: row.data,
    prevHash: row.prev_hash,
    hash: row.hash,
  }
}

function entryHash(fields: {
  seq: number
  at: string
  kind: string
  namespace: string | null
  data: Record<string, unknown>
  prevHash: string
}): string {
  const { data, ...rest } = fields
  return auditEntryHash({ ...rest, dataHash: auditDataHash(data) })
}
