import {
  AUDIT_EXPORT_FORMAT,
  type AuditCheckpoint,
  type AuditExportLine,
  auditDataHash,
  signAuditCheckpoint,
  verifyAuditCheckpoint,
} from '@subrosa/protocol'
import { AUDIT_PAGE, listAudit, verifyAuditChain } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { publicJwks } from './state.ts'

type CheckpointRow = { seq: number | string; head: string; at: string; signature: string }

/** Stored checkpoints, in order. */
export async function listCheckpoints(
  ctx: Pick<BrokerContext, 'db'>,
  upTo = Number.MAX_SAFE_INTEGER,
): Promise<AuditCheckpoint[]> {
  const rows = (
    await ctx.db.query<CheckpointRow>(
      'SELECT seq, head, at, signature FROM audit_checkpoints WHERE seq <= $1 ORDER BY seq',
      [upTo],
    )
  ).rows
  return rows.map(toCheckpoint)
}

function toCheckpoint(r: CheckpointRow): AuditCheckpoint {
  return { seq: Number(r.seq), head: r.head, at: r.at, signature: r.signature }
}

/** The latest stored checkpoint at or before `upTo`, if any. */
async function latestCheckpoint(
  ctx: Pick<BrokerContext, 'db'>,
  upTo = Number.MAX_SAFE_INTEGER,
): Promise<AuditCheckpoint | undefined> {
  const r = (
    await ctx.db.query<CheckpointRow>(
      'SELECT seq, head, at, signature FROM audit_checkpoints WHERE seq <= $1 ORDER BY seq DESC LIMIT 1',
      [upTo],
    )
  ).rows[0]
  return r === undefined ? undefined : toCheckpoint(r)
}

/** Whether `c` is signed by this broker's key, under its issuer. */
async function signedByThisBroker(ctx: BrokerContext, c: AuditCheckpoint): Promise<boolean> {
  try {
    const { issuer } = await verifyAuditCheckpoint(c, publicJwks(ctx.keys.signingKey))
    return issuer === ctx.issuer
  } catch {
    return false
  }
}

/**
 * The whole log verified: the hash chain recomputes, and every stored checkpoint is signed by this
 * broker and names the hash its entry has now. A rewrite of the log by someone with database
 * access but without the broker's keys breaks one of the two. Reads the log a page at a time.
 */
export async function verifyAuditLog(
  ctx: BrokerContext,
): Promise<{ ok: true; head: string; length: number } | { ok: false; brokenAt: number }> {
  const checkpoints = await listCheckpoints(ctx)
  const heads = new Map(checkpoints.map((c) => [c.seq, c.head]))
  let mismatch: number | undefined
  const chain = await verifyAuditChain(ctx.db, {
    onEntry: (seq, hash) => {
      if (mismatch === undefined && heads.has(seq) && heads.get(seq) !== hash) mismatch = seq
    },
  })
  if (!chain.ok) return chain
  for (const c of checkpoints) {
    // A checkpoint past the end names an entry that was removed.
    if (c.seq === mismatch || c.seq > chain.length || !(await signedByThisBroker(ctx, c)))
      return { ok: false, brokenAt: c.seq }
  }
  return chain
}

/**
 * Sign a checkpoint over the current head of the audit log (idempotent per head). The broker
 * never signs over a log it cannot vouch for. By default it vouches incrementally: the latest
 * checkpoint must be its own and still name the hash its entry has, and every entry after it
 * must verify; a consistent rewrite of earlier entries changes that hash. An inconsistent one (a
 * link broken before the latest checkpoint) is left to the full verification (`full`, which
 * exports use, `subrosa audit` and `audit verify`): the periodic checkpoint then reads only the
 * entries since the last one, not the whole log (ADR 0034). Returns undefined when the log is
 * empty.
 *
 * @throws BrokerError `ERR_BROKER_AUDIT` when the log (all of it with `full`, otherwise the
 * latest checkpoint and the entries after it) does not verify.
 */
export async function createAuditCheckpoint(
  ctx: BrokerContext,
  options: { full?: boolean } = {},
): Promise<AuditCheckpoint | undefined> {
  const last = await latestCheckpoint(ctx)
  let log: Awaited<ReturnType<typeof verifyAuditLog>>
  if (options.full === true) {
    log = await verifyAuditLog(ctx)
  } else {
    if (last !== undefined) {
      const entry = (
        await ctx.db.query<{ hash: string }>('SELECT hash FROM audit_log WHERE seq = $1', [
          last.seq,
        ])
      ).rows[0]
      if (entry?.hash !== last.head || !(await signedByThisBroker(ctx, last)))
        throw unverified(last.seq)
    }
    log = await verifyAuditChain(
      ctx.db,
      last === undefined ? {} : { from: { seq: last.seq, hash: last.head } },
    )
  }
  if (!log.ok) throw unverified(log.brokenAt)
  if (log.length === 0) return undefined
  if (last?.seq === log.length) return last
  const checkpoint = await signAuditCheckpoint(
    { seq: log.length, head: log.head, at: ctx.clock().toISOString() },
    ctx.issuer,
    ctx.keys.signingKey,
  )
  // Replicas may sign the same head at once: the first stored wins, and every one returns it.
  await ctx.db.query(
    'INSERT INTO audit_checkpoints (seq, head, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING',
    [checkpoint.seq, checkpoint.head, checkpoint.at, checkpoint.signature],
  )
  return latestCheckpoint(ctx, log.length)
}

function unverified(seq: number): BrokerError {
  return new BrokerError(
    'ERR_BROKER_AUDIT',
    `The audit log does not verify at entry ${seq}; no checkpoint is signed`,
    { details: { seq } },
  )
}

/**
 * An audit export (JSON lines, `AUDIT_EXPORT_FORMAT`) of the whole log up to a checkpoint signed
 * now: entries of `namespaces` (and broker-wide entries) with their data, others by data hash
 * only, and every checkpoint. `verifyAuditExport` checks it offline against the broker's JWKS.
 */
export async function exportAudit(
  ctx: BrokerContext,
  namespaces: readonly string[],
): Promise<string> {
  const checkpoint = await createAuditCheckpoint(ctx, { full: true })
  const end = checkpoint?.seq ?? 0
  const visible = new Set(namespaces)
  const header: AuditExportLine = {
    format: AUDIT_EXPORT_FORMAT,
    issuer: ctx.issuer,
    exportedAt: ctx.clock().toISOString(),
    namespaces: [...visible].sort(),
  }
  const lines = [JSON.stringify(header)]
  const checkpoints = await listCheckpoints(ctx, end)
  let c = 0
  for (let after = 0; after < end; ) {
    const page = (await listAudit(ctx.db, { after, limit: AUDIT_PAGE })).filter((e) => e.seq <= end)
    if (page.length === 0) break
    for (const e of page) {
      const shown = e.namespace === null || visible.has(e.namespace)
      const line: AuditExportLine = {
        type: 'entry',
        seq: e.seq,
        at: e.at,
        kind: e.kind,
        namespace: e.namespace,
        dataHash: auditDataHash(e.data),
        ...(shown ? { data: e.data } : {}),
        prevHash: e.prevHash,
        hash: e.hash,
      }
      lines.push(JSON.stringify(line))
      while (c < checkpoints.length && (checkpoints[c] as AuditCheckpoint).seq === e.seq) {
        lines.push(JSON.stringify({ type: 'checkpoint', ...checkpoints[c] }))
        c++
      }
      after = e.seq
    }
  }
  return `${lines.join('\n')}\n`
}
