import assert from 'node:assert/strict'
import { test } from 'node:test'
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose'
import {
  AUDIT_EXPORT_FORMAT,
  AUDIT_GENESIS,
  auditDataHash,
  auditEntryHash,
  signAuditCheckpoint,
} from './audit.ts'
import { verifyAuditExport } from './audit-export.ts'
import { ProtocolError } from './errors.ts'

const ISSUER = 'https://broker.test'

async function brokerKey(): Promise<{ signing: JWK; jwks: { keys: JWK[] } }> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true })
  const jwk = await exportJWK(privateKey)
  const signing = { ...jwk, alg: 'ES256', kid: await calculateJwkThumbprint(jwk) }
  const { d: _d, ...pub } = signing
  return { signing, jwks: { keys: [pub] } }
}

type Line = Record<string, unknown>

async function exportOf(n: number, signing: JWK, withheld = new Set<number>()): Promise<Line[]> {
  const lines: Line[] = [
    { format: AUDIT_EXPORT_FORMAT, issuer: ISSUER, exportedAt: 'now', namespaces: ['a'] },
  ]
  let prev = AUDIT_GENESIS
  for (let seq = 1; seq <= n; seq++) {
    const data = { policy: `p${seq}`, by: 'owner' }
    const fields = {
      seq,
      at: `2026-12-01T00:00:${String(seq).padStart(2, '0')}.000Z`,
      kind: 'policy.apply',
      namespace: withheld.has(seq) ? 'b' : 'a',
      dataHash: auditDataHash(data),
      prevHash: prev,
    }
    const hash = auditEntryHash(fields)
    lines.push({ type: 'entry', ...fields, ...(withheld.has(seq) ? {} : { data }), hash })
    prev = hash
    if (seq % 4 === 0 || seq === n) {
      const c = await signAuditCheckpoint({ seq, head: hash, at: fields.at }, ISSUER, signing)
      lines.push({ type: 'checkpoint', ...c })
    }
  }
  return lines
}

const text = (lines: Line[]) => `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`
const codeOf = (e: unknown) => (e instanceof ProtocolError ? e.code : String(e))
const entries = (lines: Line[]) => lines.filter((l) => l.type === 'entry')

test('an intact export verifies, with withheld entries counted', async () => {
  const { signing, jwks } = await brokerKey()
  const lines = await exportOf(10, signing, new Set([3, 7]))
  const r = await verifyAuditExport(text(lines), jwks)
  assert.equal(r.entries, 10)
  assert.equal(r.withheld, 2)
  assert.equal(r.checkpoints, 3)
  assert.equal(r.head, entries(lines).at(-1)?.hash)
})

test('a changed, removed, reordered or cut entry is detected', async () => {
  const { signing, jwks } = await brokerKey()
  const base = await exportOf(10, signing)
  const refuse = async (lines: Line[], code: string, seq?: number) => {
    await assert.rejects(verifyAuditExport(text(lines), jwks), (e) => {
      assert.equal(codeOf(e), code)
      if (seq !== undefined) assert.equal((e as ProtocolError).details?.seq, seq)
      return true
    })
  }
  const copy = () => structuredClone(base)
  // changed data
  let lines = copy()
  ;(entries(lines)[4] as { data: Record<string, unknown> }).data.by = 'mallory'
  await refuse(lines, 'ERR_AUDIT_CHAIN', 5)
  // changed field, with data hash and own hash recomputed: the next link breaks
  lines = copy()
  const e5 = entries(lines)[4] as Line
  e5.kind = 'policy.other'
  e5.hash = auditEntryHash(e5 as never)
  await refuse(lines, 'ERR_AUDIT_CHAIN', 6)
  // removed entry
  lines = copy().filter((l) => l.seq !== 6 || l.type !== 'entry')
  await refuse(lines, 'ERR_AUDIT_CHAIN', 7)
  // reordered entries
  lines = copy()
  const i = lines.findIndex((l) => l.seq === 2 && l.type === 'entry')
  ;[lines[i], lines[i + 1]] = [lines[i + 1] as Line, lines[i] as Line]
  await refuse(lines, 'ERR_AUDIT_CHAIN', 3)
  // whole chain rewritten consistently after entry 5: the signed checkpoint at 8 disagrees
  lines = copy()
  let prev = (entries(lines)[4] as Line).hash as string
  for (const e of entries(lines).slice(5)) {
    e.data = { policy: 'forged', by: 'mallory' }
    e.dataHash = auditDataHash(e.data as Record<string, unknown>)
    e.prevHash = prev
    e.hash = auditEntryHash(e as never)
    prev = e.hash as string
  }
  await refuse(lines, 'ERR_AUDIT_CHAIN', 8)
  // cut from the end (and its checkpoint with it)
  lines = copy().filter((l) => (l.seq as number) <= 9 || l.format !== undefined)
  await refuse(lines, 'ERR_AUDIT_CHECKPOINT', 9)
})

test('checkpoints under another key or altered are refused', async () => {
  const { signing } = await brokerKey()
  const other = await brokerKey()
  const lines = await exportOf(4, signing)
  await assert.rejects(verifyAuditExport(text(lines), other.jwks), (e) => {
    assert.equal(codeOf(e), 'ERR_AUDIT_CHECKPOINT')
    return true
  })
  const { jwks } = { jwks: { keys: [] } }
  await assert.rejects(verifyAuditExport(text(lines), jwks), (e) => {
    assert.equal(codeOf(e), 'ERR_AUDIT_CHECKPOINT')
    return true
  })
})

test('malformed exports give ERR_PROTOCOL_MALFORMED', async () => {
  const { jwks } = await brokerKey()
  for (const t of [
    '',
    '{}',
    `${JSON.stringify({ format: AUDIT_EXPORT_FORMAT, issuer: 'x', exportedAt: 'y', namespaces: [] })}\n{"type":"entry"}`,
  ]) {
    await assert.rejects(verifyAuditExport(t, jwks), (e) => {
      assert.equal(codeOf(e), 'ERR_PROTOCOL_MALFORMED')
      return true
    })
  }
})
