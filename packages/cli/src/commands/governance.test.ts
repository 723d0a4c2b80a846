import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import { generateOwnerKey, type OwnerKey } from '@subrosa/protocol'
import { runInProcess } from '../in-process.ts'

function policyYaml(owners: OwnerKey[], predecessor: string | null, m: string): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata:
  namespace: acme
  name: pipeline
  predecessor: ${predecessor === null ? 'null' : `"${predecessor}"`}
owners:
  threshold: 2
  keys: [${owners.map((o) => `"${o.id}"`).join(', ')}]
workloads:
  - name: job
    accept:
      - tee: sim
        measurement: "${m.repeat(96)}"
`
}

describe('policy governance and audit from the command line', () => {
  let dir: string
  let broker: RunningBroker
  const owners: OwnerKey[] = []
  const cli = (args: string[], owner?: number) =>
    runInProcess(
      [
        ...args,
        ...(args[1] === 'sign' ? [] : ['--data-dir', 'data']),
        ...(owner === undefined ? [] : ['--owner-key', `o${owner}.jwk`]),
      ],
      dir,
    )
  const ok = (r: { status: number; stdout: string; stderr: string }) => {
    assert.equal(r.status, 0, r.stderr)
    return JSON.parse(r.stdout.trim().split('\n').at(-1) as string)
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-gov-'))
    for (let i = 0; i < 3; i++) {
      const o = await generateOwnerKey()
      owners.push(o)
      await writeFile(join(dir, `o${i}.jwk`), JSON.stringify(o.privateJwk))
    }
    broker = await startBroker({
      dataDir: join(dir, 'data'),
      unsealKey: systemRandom(32),
      port: 0,
      owners: owners.map((o) => o.publicJwk),
    })
  })
  after(async () => {
    await broker.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('applies only with the threshold of approvals, and shows history and diff', async () => {
    await writeFile(join(dir, 'v1.yaml'), policyYaml(owners, null, 'a'))
    const alone = await cli(['policy', 'apply', 'v1.yaml'], 0)
    assert.equal(alone.status, 1)
    assert.match(alone.stderr, /ERR_BROKER_APPROVAL/)
    const signed = ok(await cli(['policy', 'sign', 'v1.yaml', '-o', 'b.approval', '--json'], 1))
    assert.equal(signed.owner, owners[1]?.id)
    const v1 = ok(
      await cli(['policy', 'apply', 'v1.yaml', '--approval', 'b.approval', '--json'], 0),
    )
    assert.equal(v1.version, 1)
    assert.equal(v1.approvedBy.length, 2)

    await writeFile(join(dir, 'v2.yaml'), policyYaml(owners, signed.hash, 'b'))
    ok(await cli(['policy', 'sign', 'v2.yaml', '-o', 'c.approval', '--json'], 2))
    // An approval of version 1 does not approve version 2.
    const wrong = await cli(['policy', 'apply', 'v2.yaml', '--approval', 'b.approval'], 0)
    assert.match(wrong.stderr, /ERR_POLICY_APPROVAL/)
    assert.equal(
      ok(await cli(['policy', 'apply', 'v2.yaml', '--approval', 'c.approval', '--json'], 0))
        .version,
      2,
    )

    const history = ok(await cli(['policy', 'history', 'acme/pipeline', '--json'], 0))
    assert.equal(history.versions.length, 2)
    assert.equal(history.versions[1].predecessor, signed.hash)
    const diff = await cli(['policy', 'diff', 'acme/pipeline'], 0)
    assert.equal(diff.status, 1)
    assert.match(diff.stdout, new RegExp(`^- +measurement: "${'a'.repeat(96)}"$`, 'm'))
    assert.match(diff.stdout, new RegExp(`^\\+ +measurement: "${'b'.repeat(96)}"$`, 'm'))
    const same = await cli(['policy', 'diff', 'acme/pipeline', '--file', 'v2.yaml', '--json'], 0)
    assert.equal(same.status, 0, same.stderr)
    assert.equal(JSON.parse(same.stdout).changed, false)
  })

  it('exports an audit log that verifies, and catches an edited or rewritten export', async () => {
    const exported = ok(await cli(['audit', 'export', '-o', 'a1.jsonl', '--json'], 0))
    assert.ok(exported.entries >= 4)
    const verified = ok(await cli(['audit', 'verify', 'a1.jsonl', '--json']))
    assert.equal(verified.entries, exported.entries)
    await writeFile(join(dir, 'jwks.json'), JSON.stringify(broker.jwks))
    ok(await cli(['audit', 'verify', 'a1.jsonl', '--jwks', 'jwks.json', '--json']))

    const text = await readFile(join(dir, 'a1.jsonl'), 'utf8')
    await writeFile(join(dir, 'edited.jsonl'), text.replace('"version":1', '"version":7'))
    const edited = await cli(['audit', 'verify', 'edited.jsonl', '--jwks', 'jwks.json'])
    assert.equal(edited.status, 1)
    assert.match(edited.stderr, /ERR_AUDIT_CHAIN/)

    ok(await cli(['owner', 'revoke', '--yes', '--json'], 2))
    ok(await cli(['audit', 'export', '-o', 'a2.jsonl', '--json'], 0))
    ok(await cli(['audit', 'verify', 'a2.jsonl', '--previous', 'a1.jsonl', '--json']))
    const swapped = await cli(['audit', 'verify', 'a1.jsonl', '--previous', 'edited.jsonl'])
    assert.equal(swapped.status, 1)
  })

  it('refuses a revoked owner key, and revocation needs --yes', async () => {
    const unconfirmed = await cli(['owner', 'revoke'], 0)
    assert.equal(unconfirmed.status, 2)
    const revoked = await cli(['policy', 'history', 'acme/pipeline'], 2)
    assert.equal(revoked.status, 1)
    assert.match(revoked.stderr, /ERR_BROKER_OWNER_REVOKED/)
  })
})
