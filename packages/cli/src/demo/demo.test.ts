import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { fromBase64Url, toBase64, toBase64Url, toHex, utf8 } from '@subrosa/core'
import { openSecret, unwrapFooterKey } from '@subrosa/crypto'
import { createOwnerKms, openFileSource } from '@subrosa/sdk'
import { lastJson, runCli } from '../child.ts'
import { cliEntry } from '../entry.ts'
import { DEMO_QUERY, taxiDatasetSql } from './dataset.ts'
import { type DemoReport, runDemo } from './run-demo.ts'

const ROWS = 5000
const entry = cliEntry()
const scratchRoot = existsSync('/dev/shm') ? '/dev/shm' : tmpdir()

async function scratchDirs(): Promise<string[]> {
  return (await readdir(scratchRoot)).filter((n) => n.startsWith('subrosa-scratch-'))
}

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry)
    if ((await stat(path)).isFile()) out.push(path)
  }
  return out
}

/** Signed statements that are public by design (audit checkpoints, owners' policy approvals). */
const PUBLIC_JWS_TYPES = new Set(['subrosa-audit-checkpoint+jwt', 'subrosa-policy-approval+jwt'])

/** JWT-shaped strings in `text` that are not public signed statements: tokens, proofs, ... */
function credentialJwts(text: string): string[] {
  return [...text.matchAll(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g)]
    .map((m) => m[0])
    .filter((jwt) => {
      try {
        const header = JSON.parse(Buffer.from(jwt.split('.')[0] as string, 'base64url').toString())
        return !PUBLIC_JWS_TYPES.has(header.typ)
      } catch {
        return true
      }
    })
}

describe('subrosa demo (end to end over loopback HTTPS)', () => {
  let dir: string
  let report: DemoReport
  const said: string[] = []
  const keys: { what: string; bytes: Uint8Array }[] = []
  let scratchBefore: string[]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-demo-test-'))
    scratchBefore = await scratchDirs()
    report = await runDemo({
      rows: ROWS,
      dir,
      keep: true,
      entry,
      say: (line) => said.push(line),
      beforeClose: async ({ broker, client, paths }) => {
        const { rootKey, signingKey, ca } = broker.context.keys
        keys.push({ what: 'root key', bytes: rootKey.slice() })
        keys.push({
          what: 'token signing key',
          bytes: fromBase64Url(String(signingKey.d)) as Uint8Array,
        })
        keys.push({ what: 'CA private key', bytes: utf8(ca.keyPem.split('\n')[1] as string) })
        const db = broker.context.db
        // Master keys and secrets are sealed by their namespace's key, sealed by the root key.
        const namespaceKey = async (namespace: string) => {
          const row = (
            await db.query<{ sealed: Uint8Array }>(
              'SELECT sealed FROM namespace_keys WHERE namespace = $1',
              [namespace],
            )
          ).rows[0] as { sealed: Uint8Array }
          return openSecret(rootKey, row.sealed, `namespace-key:${namespace}`)
        }
        for (const r of (
          await db.query<{ namespace: string; name: string; sealed: Uint8Array }>(
            'SELECT namespace, name, sealed FROM master_keys',
          )
        ).rows) {
          keys.push({
            what: `master key ${r.namespace}/${r.name}`,
            bytes: openSecret(
              await namespaceKey(r.namespace),
              r.sealed,
              `master-key:${r.namespace}/${r.name}`,
            ),
          })
        }
        for (const r of (
          await db.query<{ namespace: string; policy: string; name: string; sealed: Uint8Array }>(
            'SELECT namespace, policy, name, sealed FROM secrets',
          )
        ).rows) {
          keys.push({
            what: `secret ${r.name}`,
            bytes: openSecret(
              await namespaceKey(r.namespace),
              r.sealed,
              `secret:${r.namespace}/${r.policy}/${r.name}`,
            ),
          })
        }
        for (const file of [
          join(paths.lake, 'taxi', 'trips.parquet'),
          join(paths.lake, 'results', 'fares-by-payment.parquet'),
        ]) {
          const source = await openFileSource(file)
          try {
            keys.push({
              what: `DEK of ${file}`,
              bytes: (await unwrapFooterKey(source, createOwnerKms(client))).dek,
            })
          } finally {
            await source.close()
          }
        }
      },
    })
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('runs the job, denies the tampered one, and keeps a verified audit chain', () => {
    assert.equal(report.ok, true, said.join('\n'))
    assert.equal(report.tampered.denied, true)
    assert.equal(report.tampered.code, 'ERR_POLICY_DENIED')
    assert.equal(report.tampered.clause, 'workloads[0].accept')
    assert.equal(report.tampered.keysReleased, 0)
    assert.equal(report.tampered.outputUnchanged, true)
    assert.notEqual(report.measurement, report.tamperedMeasurement)
    assert.equal(report.audit.verified, true)
    // one unwrap for the job's input, one for the custodian reading the result
    assert.equal(report.audit.kinds['key.release'], 2)
    assert.equal(report.audit.kinds.attestation, 2)
    assert.equal(report.audit.kinds['key.wrap'], 2)
    assert.equal(report.job.insecure, true)
    assert.ok(said.some((l) => l.includes('INSECURE')))
  })

  it('decrypts to exactly what DuckDB computes on the plaintext data', async () => {
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    try {
      const expected = await db.runAndReadAll(
        `WITH trips AS (${taxiDatasetSql(ROWS)}) ${DEMO_QUERY}`,
      )
      assert.deepEqual(report.result.columns, expected.columnNames())
      assert.deepEqual(report.result.rows, expected.getRowsJson())
      assert.ok(report.result.rows.length >= 3)
    } finally {
      db.closeSync()
      instance.closeSync()
    }
  })

  it('leaves no plaintext marker, key or token in the data dir, scratch dirs or logs', async () => {
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    const markers = (
      await db.runAndReadAll(
        `SELECT DISTINCT medallion FROM (${taxiDatasetSql(ROWS)}) ORDER BY 1 LIMIT 25`,
      )
    )
      .getRowsJson()
      .map((r) => String(r[0]))
    db.closeSync()
    instance.closeSync()
    assert.equal(markers.length, 25)
    assert.ok(keys.length >= 8, `collected ${keys.length} keys`)
    const needles: { what: string; bytes: Buffer }[] = [
      ...markers.map((m) => ({ what: `marker ${m}`, bytes: Buffer.from(m) })),
      ...keys.flatMap((k) => [
        { what: `${k.what} (raw)`, bytes: Buffer.from(k.bytes) },
        { what: `${k.what} (hex)`, bytes: Buffer.from(toHex(k.bytes)) },
        { what: `${k.what} (base64)`, bytes: Buffer.from(toBase64(k.bytes)) },
        { what: `${k.what} (base64url)`, bytes: Buffer.from(toBase64Url(k.bytes)) },
      ]),
    ]
    const jwt = (typ: string) =>
      [{ alg: 'ES256', typ }, { sub: 'x' }]
        .map((o) => Buffer.from(JSON.stringify(o)).toString('base64url'))
        .concat('c2ln')
        .join('.')
    assert.equal(credentialJwts(`x${jwt('JWT')}y`).length, 1, 'the scan finds tokens')
    assert.equal(credentialJwts(jwt('subrosa-audit-checkpoint+jwt')).length, 0)
    const hits: string[] = []
    const scanned = [...(await filesUnder(dir)).filter((f) => !f.endsWith('sim-platform.jwk'))]
    for (const file of scanned) {
      const bytes = await readFile(file)
      for (const n of needles) if (bytes.includes(n.bytes)) hits.push(`${n.what} in ${file}`)
      if (!file.endsWith('.parquet') && credentialJwts(bytes.toString('latin1')).length > 0)
        hits.push(`a JWT in ${file}`)
    }
    const logText = Buffer.from(said.join('\n'))
    for (const n of needles)
      if (logText.includes(n.bytes)) hits.push(`${n.what} in the demo output`)
    assert.deepEqual(hits, [])
    assert.ok(
      scanned.some((f) => f.includes('pgdata')),
      'scanned the broker data dir',
    )
    assert.ok(
      scanned.some((f) => f.endsWith('job.log')),
      'scanned the job logs',
    )
    assert.deepEqual(
      (await scratchDirs()).filter((d) => !scratchBefore.includes(d)),
      [],
      'scratch dirs removed',
    )
  })

  it('runs as `subrosa demo --json` and exits 0', async () => {
    const res = await runCli(entry, ['demo', '--rows', '500', '--json'])
    assert.equal(res.status, 0, res.stderr)
    const out = lastJson(res.stdout) as unknown as DemoReport
    assert.equal(out.ok, true)
    assert.equal(existsSync(out.dir), false, 'temp working dir removed')
  })
})
