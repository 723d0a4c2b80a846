import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { parsePolicy, policyHash } from '@subrosa/policy'
import {
  type AuditEntry,
  auditDataHash,
  auditEntryHash,
  generateOwnerKey,
  type OwnerKey,
  signPolicyApproval,
  verifyAuditExport,
} from '@subrosa/protocol'
import { appendAudit, listAudit, verifyAuditChain } from './audit.ts'
import { createAuditCheckpoint, verifyAuditLog } from './audit-checkpoints.ts'
import type { BrokerError } from './errors.ts'
import { registerOwner } from './owners.ts'
import { publicJwks } from './state.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'

function policyYaml(
  name: string,
  owners: readonly OwnerKey[],
  threshold: number,
  predecessor: string | null,
  measurement = 'a'.repeat(96),
  namespace = 'acme',
): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata:
  namespace: ${namespace}
  name: ${name}
  predecessor: ${predecessor === null ? 'null' : `"${predecessor}"`}
owners:
  threshold: ${threshold}
  keys: [${owners.map((o) => `"${o.id}"`).join(', ')}]
workloads:
  - name: job
    accept:
      - tee: sim
        measurement: "${measurement}"
`
}

const hashOf = (yaml: string) => policyHash(parsePolicy(yaml))
const subjectOf = (yaml: string) => {
  const p = parsePolicy(yaml)
  return { namespace: p.metadata.namespace, name: p.metadata.name, hash: policyHash(p) }
}

describe('policy governance', () => {
  let tb: TestBroker
  let a: OwnerKey
  let b: OwnerKey
  let c: OwnerKey
  let d: OwnerKey
  before(async () => {
    tb = await startTestBroker()
    a = tb.owner
    b = await generateOwnerKey()
    c = await generateOwnerKey()
    d = await generateOwnerKey()
    for (const o of [b, c, d]) await registerOwner(tb.context, o.publicJwk)
  })
  after(() => tb.close())

  const approve = (yaml: string, owner: OwnerKey) =>
    signPolicyApproval(subjectOf(yaml), owner, tb.now())
  const apply = (yaml: string, approvals: string[] = [], signer = a) =>
    tb.admin('POST', '/admin/v0/policies', { yaml, approvals }, signer)
  const lastEntry = async (kind: string): Promise<AuditEntry | undefined> =>
    (await listAudit(tb.context.db, { limit: 10_000 })).filter((e) => e.kind === kind).at(-1)
  async function refused(
    res: Awaited<ReturnType<TestBroker['admin']>>,
    code: string,
    auditKind: string,
  ) {
    assert.equal(res.json().code, code, res.body)
    const entry = await lastEntry(auditKind)
    assert.equal(entry?.data.code, code)
    return entry
  }

  let v1 = ''
  let v2 = ''
  it('needs the threshold of owner approvals to create a policy', async () => {
    v1 = policyYaml('pipeline', [a, b, c], 2, null)
    const alone = await apply(v1)
    assert.equal(alone.statusCode, 403)
    await refused(alone, 'ERR_BROKER_APPROVAL', 'policy.deny')
    assert.deepEqual(alone.json().details, { needed: 2, got: 1 })
    const ok = await apply(v1, [await approve(v1, b)])
    assert.equal(ok.statusCode, 201, ok.body)
    assert.deepEqual(ok.json().approvedBy.sort(), [a.id, b.id].sort())
    assert.equal((await lastEntry('policy.apply'))?.data.version, 1)
  })

  it('counts an owner once and refuses approvals of other versions or by non-owners', async () => {
    v2 = policyYaml('pipeline', [a, b, c], 2, hashOf(v1), 'b'.repeat(96))
    // A's own approval does not add to A's request proof.
    await refused(await apply(v2, [await approve(v2, a)]), 'ERR_BROKER_APPROVAL', 'policy.deny')
    // B's approval of version 1 does not approve version 2.
    await refused(await apply(v2, [await approve(v1, b)]), 'ERR_POLICY_APPROVAL', 'policy.deny')
    // D is a registered owner key, but not an owner of this policy.
    await refused(await apply(v2, [await approve(v2, d)]), 'ERR_BROKER_APPROVAL', 'policy.deny')
    const ok = await apply(v2, [await approve(v2, c)])
    assert.equal(ok.statusCode, 201, ok.body)
    assert.equal(ok.json().version, 2)
  })

  it('refuses a stale predecessor (concurrent update or rollback)', async () => {
    const stale = policyYaml('pipeline', [a, b, c], 2, hashOf(v1), 'c'.repeat(96))
    const res = await apply(stale, [await approve(stale, b)])
    assert.equal(res.statusCode, 409)
    await refused(res, 'ERR_BROKER_CONFLICT', 'policy.deny')
    const rollback = await apply(v1, [await approve(v1, b)])
    await refused(rollback, 'ERR_BROKER_CONFLICT', 'policy.deny')
  })

  it('keeps a history whose versions name their predecessors, and serves each version', async () => {
    const h = await tb.admin('GET', '/admin/v0/policies/acme/pipeline/history')
    assert.equal(h.statusCode, 200, h.body)
    const versions = h.json().versions
    assert.deepEqual(
      versions.map((v: { version: number }) => v.version),
      [1, 2],
    )
    assert.equal(versions[0].predecessor, null)
    assert.equal(versions[1].predecessor, versions[0].hash)
    assert.deepEqual(versions[1].approvedBy.sort(), [a.id, c.id].sort())
    const one = await tb.admin('GET', '/admin/v0/policies/acme/pipeline/versions/1')
    assert.equal(one.json().yaml, v1)
    assert.equal(one.json().hash, hashOf(v1))
    const none = await tb.admin('GET', '/admin/v0/policies/acme/pipeline/versions/9')
    assert.equal(none.json().code, 'ERR_BROKER_NOT_FOUND')
  })

  it('refuses cross-namespace access and audits it in the target namespace', async () => {
    const own = await tb.admin('POST', '/admin/v0/keys', { namespace: 'dee', name: 'k' }, d)
    assert.equal(own.statusCode, 201)
    const res = await tb.admin('GET', '/admin/v0/policies/acme/pipeline/history', undefined, d)
    assert.equal(res.statusCode, 403)
    const entry = await refused(res, 'ERR_BROKER_FORBIDDEN', 'admin.deny')
    assert.equal(entry?.namespace, 'acme')
    assert.equal(entry?.data.owner, d.id)
    const key = await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name: 'x' }, d)
    await refused(key, 'ERR_BROKER_FORBIDDEN', 'admin.deny')
  })

  it('revokes an owner key for good: no more requests or approvals', async () => {
    const other = await tb.admin('POST', '/admin/v0/owners/revoke', { owner: c.id }, b)
    await refused(other, 'ERR_BROKER_FORBIDDEN', 'admin.deny')
    const self = await tb.admin('POST', '/admin/v0/owners/revoke', { owner: b.id }, b)
    assert.equal(self.statusCode, 200, self.body)
    assert.equal((await lastEntry('owner.revoke'))?.data.owner, b.id)
    const after = await tb.admin('GET', '/admin/v0/whoami', undefined, b)
    assert.equal(after.statusCode, 403)
    await refused(after, 'ERR_BROKER_OWNER_REVOKED', 'admin.deny')
    await registerOwner(tb.context, b.publicJwk)
    const still = await tb.admin('GET', '/admin/v0/whoami', undefined, b)
    assert.equal(still.json().code, 'ERR_BROKER_OWNER_REVOKED')
    const v3 = policyYaml('pipeline', [a, b, c], 2, hashOf(v2), 'd'.repeat(96))
    await refused(
      await apply(v3, [await approve(v3, b)]),
      'ERR_BROKER_OWNER_REVOKED',
      'policy.deny',
    )
  })

  it('exports an audit log that verifies offline and withholds other namespaces', async () => {
    const res = await tb.admin('GET', '/admin/v0/audit/export')
    assert.equal(res.statusCode, 200, res.body)
    assert.match(String(res.headers['content-type']), /ndjson/)
    const summary = await verifyAuditExport(res.body, publicJwks(tb.context.keys.signingKey))
    const all = await listAudit(tb.context.db, { limit: 10_000 })
    assert.equal(summary.entries, all.length)
    assert.equal(summary.withheld, all.filter((e) => e.namespace === 'dee').length)
    assert.ok(summary.withheld > 0)
    for (const line of res.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))) {
      if (line.type === 'entry') assert.equal(line.data === undefined, line.namespace === 'dee')
    }
  })

  it('detects an altered entry: the log no longer verifies and no checkpoint is signed', async () => {
    const before = await tb.admin('GET', '/admin/v0/audit?after=0')
    assert.equal(before.json().verified, true)
    await tb.context.db.query(
      `UPDATE audit_log SET data = jsonb_set(data, '{by}', '"mallory"') WHERE kind = 'policy.apply' AND seq = (SELECT min(seq) FROM audit_log WHERE kind = 'policy.apply')`,
    )
    const now = await tb.admin('GET', '/admin/v0/audit?after=0')
    assert.equal(now.json().verified, false)
    const exp = await tb.admin('GET', '/admin/v0/audit/export')
    assert.equal(exp.statusCode, 500)
    assert.equal(exp.json().code, 'ERR_BROKER_AUDIT')
  })
})

describe('signed-only mode', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker({ signedPoliciesOnly: true })
  })
  after(() => tb.close())

  it('refuses an unsigned policy and accepts one carrying its approvals', async () => {
    const yaml = policyYaml('solo', [tb.owner], 1, null)
    const res = await tb.admin('POST', '/admin/v0/policies', { yaml })
    assert.equal(res.json().code, 'ERR_BROKER_APPROVAL')
    const deny = (await listAudit(tb.context.db, { limit: 1000 })).at(-1)
    assert.equal(deny?.kind, 'policy.deny')
    assert.equal(deny?.data.code, 'ERR_BROKER_APPROVAL')
    const approval = await signPolicyApproval(subjectOf(yaml), tb.owner, tb.now())
    const ok = await tb.admin('POST', '/admin/v0/policies', { yaml, approvals: [approval] })
    assert.equal(ok.statusCode, 201, ok.body)
    assert.deepEqual(ok.json().approvedBy, [tb.owner.id])
  })
})

describe('audit checkpoints', () => {
  it('catch a consistent rewrite of the chain that the hash chain alone cannot', async () => {
    const tb = await startTestBroker()
    try {
      for (const name of ['k1', 'k2', 'k3'])
        await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name })
      const checkpoint = await createAuditCheckpoint(tb.context)
      assert.ok(checkpoint !== undefined)
      assert.equal((await createAuditCheckpoint(tb.context))?.signature, checkpoint.signature)
      // Rewrite entry 2 and re-link everything after it, as someone with database access could.
      const entries = await listAudit(tb.context.db, { limit: 1000 })
      let prev = (entries[0] as AuditEntry).hash
      for (const e of entries.slice(1)) {
        const data = e.seq === 2 ? { ...e.data, by: 'mallory' } : e.data
        const hash = auditEntryHash({ ...e, dataHash: auditDataHash(data), prevHash: prev })
        await tb.context.db.query(
          'UPDATE audit_log SET data = $2, prev_hash = $3, hash = $4 WHERE seq = $1',
          [e.seq, JSON.stringify(data), prev, hash],
        )
        prev = hash
      }
      assert.equal((await verifyAuditChain(tb.context.db)).ok, true)
      const log = await verifyAuditLog(tb.context)
      assert.deepEqual(log, { ok: false, brokenAt: checkpoint.seq })
      await assert.rejects(createAuditCheckpoint(tb.context), (e) => {
        assert.equal((e as BrokerError).code, 'ERR_BROKER_AUDIT')
        return true
      })
    } finally {
      await tb.close()
    }
  })

  it('verify the chain a page at a time, across page boundaries and from a given point', async () => {
    const tb = await startTestBroker()
    try {
      for (let i = 0; i < 10; i++)
        await appendAudit(tb.context.db, tb.context.clock, { kind: 'test.entry', data: { i } })
      const whole = await verifyAuditChain(tb.context.db)
      assert.equal(whole.ok, true)
      const seen: number[] = []
      const paged = await verifyAuditChain(tb.context.db, {
        pageSize: 3,
        onEntry: (seq) => seen.push(seq),
      })
      assert.deepEqual(paged, whole)
      assert.deepEqual(
        seen,
        [...Array(whole.ok ? whole.length : 0).keys()].map((i) => i + 1),
      )
      const entries = await listAudit(tb.context.db, { limit: 1000 })
      const middle = entries[5] as AuditEntry
      assert.deepEqual(
        await verifyAuditChain(tb.context.db, {
          pageSize: 3,
          from: { seq: middle.seq, hash: middle.hash },
        }),
        whole,
      )
      // A removed entry at a page boundary (seq 7 starts the third page of 3 after 6).
      await tb.context.db.query('DELETE FROM audit_log WHERE seq = $1', [7])
      assert.deepEqual(await verifyAuditChain(tb.context.db, { pageSize: 3 }), {
        ok: false,
        brokenAt: 8,
      })
    } finally {
      await tb.close()
    }
  })

  it('are signed incrementally: a changed entry after the latest checkpoint, or a forged checkpoint, stops them', async () => {
    const tb = await startTestBroker()
    try {
      const append = (i: number) =>
        appendAudit(tb.context.db, tb.context.clock, { kind: 'test.entry', data: { i } })
      for (let i = 0; i < 4; i++) await append(i)
      const first = await createAuditCheckpoint(tb.context)
      assert.ok(first !== undefined)
      for (let i = 4; i < 8; i++) await append(i)
      const second = await createAuditCheckpoint(tb.context)
      assert.ok(second !== undefined && second.seq > first.seq)
      assert.equal((await verifyAuditLog(tb.context)).ok, true)

      // An entry before the latest checkpoint altered in place (its link left broken): the
      // incremental check does not read it; the full verification finds it.
      await tb.context.db.query(`UPDATE audit_log SET data = '{"i":"x"}'::jsonb WHERE seq = $1`, [
        first.seq - 1,
      ])
      await append(8)
      const third = await createAuditCheckpoint(tb.context)
      assert.ok(third !== undefined && third.seq > second.seq)
      assert.deepEqual(await verifyAuditLog(tb.context), { ok: false, brokenAt: first.seq - 1 })

      // An entry after the latest checkpoint altered: no checkpoint is signed over it.
      await append(9)
      await append(10)
      await tb.context.db.query(`UPDATE audit_log SET data = '{"i":"y"}'::jsonb WHERE seq = $1`, [
        third.seq + 1,
      ])
      await assert.rejects(createAuditCheckpoint(tb.context), (e) => {
        assert.equal((e as BrokerError).code, 'ERR_BROKER_AUDIT')
        assert.equal((e as BrokerError).details?.seq, third.seq + 1)
        return true
      })

      // A checkpoint row not signed by this broker (here: another entry's signature) is refused.
      await tb.context.db.query('DELETE FROM audit_log WHERE seq > $1', [third.seq])
      await append(11)
      const head = (await listAudit(tb.context.db, { limit: 1000 })).at(-1) as AuditEntry
      await tb.context.db.query(
        'INSERT INTO audit_checkpoints (seq, head, at, signature) VALUES ($1, $2, $3, $4)',
        [head.seq, head.hash, third.at, third.signature],
      )
      await assert.rejects(createAuditCheckpoint(tb.context), (e) => {
        assert.equal((e as BrokerError).details?.seq, head.seq)
        return true
      })
    } finally {
      await tb.close()
    }
  })
})
