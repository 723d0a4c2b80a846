import {
  AUDIT_EXPORT_FORMAT,
  type AuditCheckpoint,
  type AuditExportLine,
  auditDataHash,
  signAuditCheckpoint,
  verifyAuditCheckpoint,
} from '@subrosa/protocol'
import { listAudit, verifyAuditChain } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { publicJwks } from './state.ts'

type CheckpointRow = { seq: number | string; head: string; at: string; signature: string }

const PAGE = 5000

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
  return rows.map((r) => ({ seq: Number(r.seq), head: r.head, at: r.at, signature: r.signature }))
}

/**
 * The whole log verified: the hash chain recomputes, and every stored checkpoint is signed by this
 * broker and names the hash its entry has now. A rewrite of the log by someone with database
 * access but without the broker's keys breaks one of the two.
 */
export async function verifyAuditLog(
  ctx: BrokerContext,
): Promise<{ ok: true; head: string; length: number } | { ok: false; brokenAt: number }> {
  const chain = await verifyAuditChain(ctx.db)
  if (!chain.ok) return chain
  const hashes = new Map(
    (
      await ctx.db.query<{ seq: number | string; hash: string }>('SELECT seq, hash FROM audit_log')
    ).rows.map((r) => [Number(r.seq), r.hash]),
  )
  const jwks = publicJwks(ctx.keys.signingKey)
  for (const c of await listCheckpoints(ctx)) {
    if (hashes.get(c.seq) !== c.head) return { ok: false, brokenAt: c.seq }
    try {
      const { issuer } = await verifyAuditCheckpoint(c, jwks)
      if (issuer !== ctx.issuer) return { ok: false, brokenAt: c.seq }
    } catch {
      return { ok: false, brokenAt: c.seq }
    }
  }
  return chain
}

/**
 * Sign a checkpoint over the current head of the audit log (idempotent per head), after verifying
 * the log and its earlier checkpoints: the broker never signs over a log it cannot vouch for.
 * Returns undefined when the log is empty.
 *
 * @throws BrokerError `ERR_BROKER_AUDIT` when the log or a checkpoint does not verify.
 */
export async function createAuditCheckpoint(
  ctx: BrokerContext,
): Promise<AuditCheckpoint | undefined> {
  const log = await verifyAuditLog(ctx)
  if (!log.ok) {
    throw new BrokerError(
      'ERR_BROKER_AUDIT',
      `The audit log does not verify at entry ${log.brokenAt}; no checkpoint is signed`,
      { details: { seq: log.brokenAt } },
    )
  }
  if (log.length === 0) return undefined
  const existing = await listCheckpoints(ctx, log.length)
  const last = existing.at(-1)
  if (last?.seq === log.length) return last
  const checkpoint = await signAuditCheckpoint(
    { seq: log.length, head: log.head, at: ctx.clock().toISOString() },
    ctx.issuer,
    ctx.keys.signingKey,
  )
  await ctx.db.query(
    'INSERT INTO audit_checkpoints (seq, head, at, signature) VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING',
    [checkpoint.seq, checkpoint.head, checkpoint.at, checkpoint.signature],
  )
  return (await listCheckpoints(ctx, log.length)).at(-1)
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
  const checkpoint = await createAuditCheckpoint(ctx)
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
    const page = (await listAudit(ctx.db, { after, limit: PAGE })).filter((e) => e.seq <= end)
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
