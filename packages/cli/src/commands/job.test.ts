import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { bytesSource, createInMemoryKms, encryptStream, memorySink } from '@subrosa/crypto'
import { main } from '../cli.ts'
import { capture } from '../testing/capture.ts'

const POLICY = join(import.meta.dirname, '../../../policy/fixtures/taxi-analytics.policy.yaml')

const JOB = `apiVersion: subrosa/v1
kind: Job
metadata: { name: zones }
policy: acme/taxi-analytics/taxi-job
inputs:
  zones: { format: csv, uri: zones.csv.srsa }
parameters: { borough: Queens }
query: SELECT zone FROM zones WHERE borough = $borough
outputs:
  out: { format: csv, uri: out.csv.srsa, key: acme/taxi-results }
`

describe('subrosa job validate', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-job-'))
    const kms = createInMemoryKms({
      'subrosa:acme/taxi': new Uint8Array(randomBytes(32)),
      'subrosa:acme/zones': new Uint8Array(randomBytes(32)),
    })
    for (const [file, key] of [
      ['zones.csv.srsa', 'subrosa:acme/taxi'],
      ['other.csv.srsa', 'subrosa:acme/zones'],
    ] as const) {
      const dek = new Uint8Array(randomBytes(32))
      const sink = memorySink()
      const plain = bytesSource(new TextEncoder().encode('zone,borough\n1,Queens\n'))
      await encryptStream(plain, sink, { dek, keyId: key, wrappedDek: await kms.wrapKey(dek, key) })
      await writeFile(join(dir, file), sink.bytes())
    }
    await writeFile(join(dir, 'policy.yaml'), await readFile(POLICY))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const validate = async (job: string) => {
    await writeFile(join(dir, 'job.yaml'), job)
    const io = capture(dir)
    const status = await main(
      ['job', 'validate', 'job.yaml', '--policy-file', 'policy.yaml', '--json'],
      io,
    )
    const report = JSON.parse(io.stdout.join('')) as {
      ok: boolean
      findings: { level: string; check: string; path: string }[]
    }
    return {
      status,
      ok: report.ok,
      checks: report.findings.map((f) => `${f.level} ${f.check} ${f.path}`),
    }
  }

  it('passes a job whose undeclared input key, read from the file, is granted', async () => {
    assert.deepEqual(await validate(JOB), { status: 0, ok: true, checks: [] })
  })

  it('reports every problem with its path, and exits 1 on errors', async () => {
    const bad = JOB.replace('zones.csv.srsa', 'other.csv.srsa')
      .replace(
        'query: SELECT zone FROM zones WHERE borough = $borough',
        'query: "SELECT * FROM zones, trips, read_text(\'/etc/hostname\') WHERE x = $min AND y = $borough"',
      )
      .replace('key: acme/taxi-results', 'key: acme/taxi')
      .replace(
        'inputs:\n',
        'inputs:\n  gone: { format: parquet, uri: nowhere.parquet, key: acme/taxi }\n',
      )
    const r = await validate(bad)
    assert.equal(r.status, 1)
    assert.equal(r.ok, false)
    assert.deepEqual(r.checks.sort(), [
      'error file-access query',
      'error input-missing inputs.gone.uri',
      'error key-not-granted inputs.zones.key',
      'error key-not-granted outputs.out.key',
      'error parameter-undeclared query',
      'error table-unknown query',
    ])
  })

  it('refuses queries that are not one SELECT', async () => {
    for (const [query, check] of [
      ["COPY zones TO 'x.csv'", 'query-not-select'],
      ['SELEC 1', 'query-syntax'],
      ['SELECT 1; SELECT 2', 'query-multiple'],
    ]) {
      const r = await validate(
        JOB.replace(/query: .*/, `query: "${query}"\n# $borough`).replace(
          'parameters: { borough: Queens }\n',
          '',
        ),
      )
      assert.deepEqual(r.checks, [`error ${check} query`], query)
    }
  })
})
