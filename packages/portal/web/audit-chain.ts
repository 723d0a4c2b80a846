// Verify the broker's audit export in the browser, as `verifyAuditExport` does in Node: entries
// 1..n without gaps, each linking to the one before, shown data matching its hash, each entry's
// hash over its fields, every checkpoint signed by the broker (JWKS) and naming its entry's hash,
// and the last entry covered by a checkpoint.
import { canonicalJson } from '@subrosa/core'
import { compactVerify, decodeProtectedHeader, importJWK, type JWK } from 'jose'
import { digest, toHex, utf8 } from './bytes.ts'

export const AUDIT_GENESIS = '0'.repeat(64)
const CHECKPOINT_TYPE = 'subrosa-audit-checkpoint+jwt'

/** One entry of the export; `data` is absent for other owners' namespaces. */
export type AuditEntry = {
  seq: number
  at: string
  kind: string
  namespace: string | null
  dataHash: string
  data?: Record<string, unknown>
  prevHash: string
  hash: string
}
type Checkpoint = { seq: number; head: string; at: string; signature: string }

/** The outcome: verified up to `upTo`, or broken at `seq` (the first bad entry) and why. */
export type ChainStatus =
  | { readonly ok: true; readonly upTo: number; readonly withheld: number }
  | { readonly ok: false; readonly seq: number; readonly reason: string }

export type AuditReport = { readonly entries: AuditEntry[]; readonly status: ChainStatus }

const sha256Hex = async (text: string) => toHex(await digest('SHA-256', utf8(text)))

function parse(text: string): { issuer: string; entries: AuditEntry[]; checkpoints: Checkpoint[] } {
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  const header = JSON.parse(lines[0] ?? '{}') as { format?: unknown; issuer?: unknown }
  if (header.format !== 'subrosa-audit-export/v1' || typeof header.issuer !== 'string')
    throw new Error('The audit export has no valid header')
  const entries: AuditEntry[] = []
  const checkpoints: Checkpoint[] = []
  for (const line of lines.slice(1)) {
    const value = JSON.parse(line) as { type?: unknown } & Record<string, unknown>
    if (value.type === 'entry') entries.push(value as unknown as AuditEntry)
    else if (value.type === 'checkpoint') checkpoints.push(value as unknown as Checkpoint)
  }
  return { issuer: header.issuer, entries, checkpoints }
}

async function checkpointIssuer(c: Checkpoint, keys: readonly JWK[]): Promise<string> {
  const header = decodeProtectedHeader(c.signature)
  if (header.alg !== 'ES256' || header.typ !== CHECKPOINT_TYPE) throw new Error('not a checkpoint')
  const key = keys.find((k) => header.kid === undefined || k.kid === header.kid)
  if (key === undefined) throw new Error('signed by an unknown key')
  const { payload } = await compactVerify(c.signature, await importJWK(key, 'ES256'), {
    algorithms: ['ES256'],
  })
  const p = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>
  if (p.seq !== c.seq || p.head !== c.head || p.at !== c.at || typeof p.iss !== 'string')
    throw new Error('the signed statement differs from the record')
  return p.iss
}

/** Verify an export against the broker's JWKS; never throws for a bad chain, reports it. */
export async function verifyAuditExport(
  text: string,
  jwks: { readonly keys: readonly JWK[] },
): Promise<AuditReport> {
  const { issuer, entries, checkpoints } = parse(text)
  const broken = (seq: number, reason: string): AuditReport => ({
    entries,
    status: { ok: false, seq, reason },
  })
  let prev = AUDIT_GENESIS
  let withheld = 0
  const hashes = new Map<number, string>()
  for (const [i, e] of entries.entries()) {
    if (e.seq !== i + 1) return broken(i + 1, `entry ${i + 1} is missing or out of order`)
    if (e.prevHash !== prev) return broken(e.seq, 'it does not link to the entry before it')
    if (e.data === undefined) withheld++
    else if ((await sha256Hex(canonicalJson(e.data))) !== e.dataHash)
      return broken(e.seq, 'its data was changed')
    const { seq, at, kind, namespace, dataHash, prevHash } = e
    const fields = canonicalJson({ seq, at, kind, namespace, dataHash, prevHash })
    if ((await sha256Hex(fields)) !== e.hash) return broken(e.seq, 'its fields were changed')
    hashes.set(e.seq, e.hash)
    prev = e.hash
  }
  for (const c of checkpoints) {
    try {
      if ((await checkpointIssuer(c, jwks.keys)) !== issuer)
        return broken(c.seq, 'a checkpoint was signed for another issuer')
    } catch (error) {
      return broken(c.seq, `a checkpoint does not verify (${(error as Error).message})`)
    }
    if (hashes.get(c.seq) !== c.head) return broken(c.seq, 'it differs from what the broker signed')
  }
  const last = entries.at(-1)
  if (last !== undefined && !checkpoints.some((c) => c.seq === last.seq))
    return broken(last.seq, 'no signed checkpoint covers the last entry')
  return { entries, status: { ok: true, upTo: last?.seq ?? 0, withheld } }
}
