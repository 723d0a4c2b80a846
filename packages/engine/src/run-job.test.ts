import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { watch } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBBlobValue, DuckDBInstance } from '@duckdb/node-api'
import { createInMemoryKms, encryptParquetWithKms, unwrapFooterKey } from '@subrosa/crypto'
import { validateJob } from '@subrosa/policy'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import { openDuckDb } from './duckdb-session.ts'
import { runJob } from './run-job.ts'

const masters = {
  'subrosa:t/in': new Uint8Array(randomBytes(32)),
  'subrosa:t/out': new Uint8Array(randomBytes(32)),
  'subrosa:t/pii': new Uint8Array(randomBytes(32)),
}
const kms = createInMemoryKms(masters)

function job(query: string, extra: Record<string, unknown> = {}) {
  return validateJob({
    apiVersion: 'subrosa/v1',
    kind: 'Job',
    metadata: { name: 't' },
    policy: 't/p/w',
    inputs: { rides: { format: 'parquet', uri: 'in.parquet', key: 't/in' } },
    query,
    outputs: { out: { format: 'parquet', uri: 'out.parquet', key: 't/out' } },
    ...extra,
  })
}

describe('runJob', () => {
  let dir: string
  let scratch: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-engine-'))
    scratch = join(dir, 'scratch')
    await mkdir(scratch, { mode: 0o700 })
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    await db.run(
      `COPY (SELECT i AS id, i % 7 AS zone, 'v' || i AS label FROM range(50000) t(i)) TO '${join(dir, 'plain.parquet')}' (FORMAT parquet)`,
    )
    db.closeSync()
    instance.closeSync()
    await encryptInput(dir, 'in.parquet')
  })
  after(() => rm(dir, { recursive: true, force: true }))

  const ctx = () => ({
    kms,
    scratchDir: scratch,
    baseDir: dir,
    kmsInstance: { id: 'test', url: 'memory:' },
  })

  it('queries the encrypted input and writes a PME output under the output key', async () => {
    const summary = await runJob(
      job('SELECT zone, count(*) AS n, max(label) AS top FROM rides GROUP BY zone ORDER BY zone'),
      ctx(),
    )
    assert.equal(summary.outputs[0]?.rows, 7)
    assert.equal(summary.inputs[0]?.masterKeyId, 'subrosa:t/in')
    const source = await openFileSource(join(dir, 'out.parquet'))
    const { dek, masterKeyId } = await unwrapFooterKey(source, kms)
    await source.close()
    assert.equal(masterKeyId, 'subrosa:t/out')
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    const rows = (
      await db.runAndReadAll(
        `SELECT sum(n)::INTEGER FROM read_parquet('${join(dir, 'out.parquet')}', encryption_config = {footer_key_value: $1::BLOB})`,
        [new DuckDBBlobValue(dek)],
      )
    ).getRows()
    db.closeSync()
    instance.closeSync()
    assert.equal(rows[0]?.[0], 50000)
    assert.deepEqual(
      (await readdir(scratch)).filter((f) => f.endsWith('.parquet')),
      [],
      'plaintext removed from scratch',
    )
  })

  it('withholds data values from DuckDB errors, and keeps structural ones', async () => {
    await assert.rejects(
      runJob(job('SELECT CAST(label AS INTEGER) FROM rides'), ctx()),
      (e: { code: string; message: string }) =>
        e.code === 'ERR_ENGINE_QUERY' && !e.message.includes('v1') && /withheld/.test(e.message),
    )
    await assert.rejects(
      runJob(job('SELECT nope FROM rides'), ctx()),
      (e: { code: string; message: string }) =>
        e.code === 'ERR_ENGINE_QUERY' && /Binder Error/.test(e.message),
    )
  })

  it('cannot escape its sandbox: no other files, no settings changes, no extensions', async () => {
    for (const q of [
      "SELECT * FROM read_csv('/etc/passwd')",
      "SELECT * FROM rides, (SELECT current_setting('lock_configuration')) WHERE 0 = 1 UNION ALL SELECT 1, 1, 'x', 'x' FROM read_text('/etc/hostname')",
    ]) {
      await assert.rejects(runJob(job(q), ctx()), { code: 'ERR_ENGINE_QUERY' })
    }
    await assert.rejects(runJob(job('SELECT 1; INSTALL httpfs'), ctx()), {
      code: 'ERR_ENGINE_QUERY',
    })
    await assert.rejects(stat(join(dir, 'escape.parquet')))
  })

  it('refuses to spill unencrypted when a job outgrows its memory limit', async () => {
    const big = job(
      'SELECT count(*) FROM (SELECT md5(i::VARCHAR) || md5((i + 1)::VARCHAR) AS s FROM range(4000000) t(i) ORDER BY s)',
      { limits: { memory: '64MB', threads: 1 } },
    )
    const created: string[] = []
    const watcher = watch(scratch, { recursive: true }, (_event, file) => {
      if (file !== null) created.push(file)
    })
    try {
      await assert.rejects(runJob(big, ctx()), { code: 'ERR_ENGINE_MEMORY' })
    } finally {
      watcher.close()
    }
    assert.ok(created.length > 0, 'the watcher saw the job scratch dir')
    assert.deepEqual(
      created.filter((f) => f.includes('duckdb-tmp/')),
      [],
      'no spill file written',
    )
    assert.deepEqual(await readdir(scratch), [], 'the job scratch dir is removed')
  })

  it('refuses an input under another master key, before any unwrap', async () => {
    let calls = 0
    const counting = {
      wrapKey: kms.wrapKey,
      unwrapKey: async (w: string, id: string) => {
        calls++
        return kms.unwrapKey(w, id)
      },
    }
    const wrong = job('SELECT 1', {
      inputs: { rides: { format: 'parquet', uri: 'in.parquet', key: 't/other' } },
    })
    await assert.rejects(runJob(wrong, { ...ctx(), kms: counting }), {
      code: 'ERR_ENGINE_KEY_MISMATCH',
    })
    assert.equal(calls, 0)
  })
  it('answers filtered queries on a natively read input exactly', async () => {
    const summary = await runJob(
      job('SELECT count(*) AS n, sum(id) AS s FROM rides WHERE zone = 3 AND id > 40000'),
      ctx(),
    )
    assert.equal(summary.inputs[0]?.read, 'native')
    const expected = [...Array(50000).keys()].filter((i) => i % 7 === 3 && i > 40000)
    const out = await readOutput(dir)
    assert.deepEqual(out, [{ n: String(expected.length), s: expected.reduce((a, b) => a + b, 0) }])
  })

  it('reads a file written with a supplied AAD prefix when the job names it', async () => {
    await encryptInput(dir, 'prefixed.parquet', {
      aadPrefix: new TextEncoder().encode('rides/2026-12'),
      storeAadPrefix: false,
    })
    const input = (aadPrefix?: string) =>
      job('SELECT count(*) AS n FROM rides', {
        inputs: {
          rides: {
            format: 'parquet',
            uri: 'prefixed.parquet',
            key: 't/in',
            ...(aadPrefix === undefined ? {} : { aadPrefix }),
          },
        },
      })
    await assert.rejects(runJob(input(), ctx()), { code: 'ERR_PARQUET_AAD_PREFIX' })
    await assert.rejects(runJob(input('rides/2027-01'), ctx()), { code: 'ERR_PARQUET_FOOTER_AUTH' })
    const summary = await runJob(input('rides/2026-12'), ctx())
    assert.equal(summary.inputs[0]?.read, 'scratch')
    assert.deepEqual(await readOutput(dir), [{ n: '50000' }])
  })

  it('decrypts column-key inputs in the scratch dir and leaves out columns not granted', async () => {
    await encryptInput(dir, 'columns.parquet', {
      columnMasterKeys: { 'subrosa:t/pii': ['label'] },
      otherColumns: 'footer-key',
      algorithm: 'AES_GCM_CTR_V1',
    })
    const columnsJob = (query: string) =>
      job(query, { inputs: { rides: { format: 'parquet', uri: 'columns.parquet', key: 't/in' } } })
    // Granted every key: all columns, decrypted by Subrosa (CTR and a column key: not native).
    const all = await runJob(
      columnsJob('SELECT count(*) AS n, max(label) AS top FROM rides WHERE zone = 1'),
      ctx(),
    )
    assert.equal(all.inputs[0]?.read, 'scratch')
    assert.deepEqual(all.inputs[0]?.droppedColumns, [])
    assert.deepEqual(await readOutput(dir), [{ n: '7143', top: 'v9997' }])
    // A workload without the pii master key: a query that does not read the column never asks
    // for its key (only the columns it names are decrypted) and answers.
    const { 'subrosa:t/pii': _pii, ...rest } = masters
    const partial = { ...ctx(), kms: createInMemoryKms(rest) }
    const some = await runJob(columnsJob('SELECT count(*) AS n FROM rides WHERE zone = 1'), partial)
    assert.deepEqual(some.inputs[0]?.droppedColumns, [])
    assert.deepEqual(some.inputs[0]?.columns, ['zone'])
    assert.deepEqual(await readOutput(dir), [{ n: '7143' }])
    // Reading every column: the one not granted is absent, the rest answers.
    const star = await runJob(
      columnsJob('SELECT count(*) AS n FROM (SELECT * FROM rides) WHERE zone = 1'),
      partial,
    )
    assert.deepEqual(star.inputs[0]?.droppedColumns, ['label'])
    assert.equal(star.inputs[0]?.columns, undefined)
    assert.deepEqual(await readOutput(dir), [{ n: '7143' }])
    // Naming it: refused, whether it is all the query reads or one of several columns.
    await assert.rejects(runJob(columnsJob('SELECT max(label) FROM rides'), partial), {
      code: 'ERR_PARQUET_KEY_UNAVAILABLE',
    })
    await assert.rejects(runJob(columnsJob('SELECT max(label), count(zone) FROM rides'), partial), {
      code: 'ERR_ENGINE_QUERY',
    })
    assert.deepEqual(
      (await readdir(scratch)).filter((f) => f.endsWith('.parquet')),
      [],
      'decrypted inputs removed from scratch',
    )
  })

  it('decrypts a uniform file itself, only the columns the query names, when asked to', async () => {
    const query =
      'SELECT zone, count(*) AS n, max(label) AS top FROM rides GROUP BY zone ORDER BY zone'
    const native = await runJob(job(query), { ...ctx(), decrypt: 'native' as const })
    const expected = await readOutput(dir)
    assert.equal(expected.length, 7)
    assert.equal(native.inputs[0]?.read, 'native')
    const scratched = await runJob(job(query), { ...ctx(), decrypt: 'scratch' as const })
    assert.equal(scratched.inputs[0]?.read, 'scratch')
    assert.deepEqual(scratched.inputs[0]?.columns, ['zone', 'label'])
    assert.deepEqual(await readOutput(dir), expected)
    // Qualified and differently cased names count; a star or a count alone do not project.
    const qualified = await runJob(job('SELECT max(r.ID) AS m FROM rides r'), {
      ...ctx(),
      decrypt: 'scratch' as const,
    })
    assert.deepEqual(qualified.inputs[0]?.columns, ['id'])
    assert.deepEqual(await readOutput(dir), [{ m: '49999' }])
    const counted = await runJob(job('SELECT count(*) AS n FROM rides'), {
      ...ctx(),
      decrypt: 'scratch' as const,
    })
    assert.deepEqual(counted.inputs[0]?.columns, ['id'], 'one column: a file needs one')
    assert.deepEqual(await readOutput(dir), [{ n: '50000' }])
    const star = await runJob(job('SELECT * FROM rides WHERE id = 3'), {
      ...ctx(),
      decrypt: 'scratch' as const,
    })
    assert.equal(star.inputs[0]?.columns, undefined)
    assert.deepEqual(await readOutput(dir), [{ id: '3', zone: '3', label: 'v3' }])
    assert.deepEqual(await readdir(scratch), [], 'the job scratch dir is removed')
  })
})

describe('openDuckDb', () => {
  it('applies the hardening and locks it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-duck-'))
    const session = await openDuckDb({ scratchDir: dir, readablePaths: [] })
    try {
      const settings = (
        await session.connection.runAndReadAll(
          "SELECT name, value FROM duckdb_settings() WHERE name IN ('temp_file_encryption', 'enable_external_access', 'lock_configuration', 'autoload_known_extensions', 'autoinstall_known_extensions') ORDER BY name",
        )
      ).getRowObjectsJson()
      assert.deepEqual(settings, [
        { name: 'autoinstall_known_extensions', value: 'false' },
        { name: 'autoload_known_extensions', value: 'false' },
        { name: 'enable_external_access', value: 'false' },
        { name: 'lock_configuration', value: 'true' },
        { name: 'temp_file_encryption', value: 'true' },
      ])
      await assert.rejects(session.connection.run('SET enable_external_access = true'), /locked/)
    } finally {
      session.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

/** plain.parquet of `dir` encrypted under subrosa:t/in into `target`, with `extra` options. */
async function encryptInput(
  dir: string,
  target: string,
  extra: Partial<Parameters<typeof encryptParquetWithKms>[2]> = {},
): Promise<void> {
  const source = await openFileSource(join(dir, 'plain.parquet'))
  const sink = await createAtomicFileSink(join(dir, target))
  await encryptParquetWithKms(source, sink, {
    masterKeyId: 'subrosa:t/in',
    kms,
    kmsInstanceId: 'test',
    kmsInstanceUrl: 'memory:',
    ...extra,
  })
  await sink.commit()
  await source.close()
}

async function readOutput(dir: string): Promise<Record<string, unknown>[]> {
  const source = await openFileSource(join(dir, 'out.parquet'))
  const { dek } = await unwrapFooterKey(source, kms)
  await source.close()
  const instance = await DuckDBInstance.create(':memory:')
  const db = await instance.connect()
  try {
    return (
      await db.runAndReadAll(
        `SELECT * FROM read_parquet('${join(dir, 'out.parquet')}', encryption_config = {footer_key_value: $1::BLOB})`,
        [new DuckDBBlobValue(dek)],
      )
    ).getRowObjectsJson() as Record<string, unknown>[]
  } finally {
    db.closeSync()
    instance.closeSync()
  }
}
