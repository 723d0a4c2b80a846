// A Delta table in Azure Blob Storage (Azurite on loopback): appends commit with conditional
// creates, reads fetch ciphertext into the scratch dir, a checkpoint is fetched and read, and the
// container holds no plaintext.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createInMemoryKms } from '@subrosa/crypto'
import { validateJob } from '@subrosa/policy'
import type { JobContext } from './adapters.ts'
import { readCheckpointFiles } from './delta/checkpoint.ts'
import { commitName, readSnapshot } from './delta/snapshot.ts'
import { runJob } from './run-job.ts'
import { joinLocation } from './storage/object-store.ts'
import { createStoreResolver, type StoreResolver } from './storage/resolve.ts'
import { type Azurite, azuriteSkip, startAzurite } from './testing/azurite.ts'
import { writeCheckpoint } from './testing/delta.ts'
import { duck, encryptParquetFile, readParquetFile } from './testing/files.ts'

const kms = createInMemoryKms({
  'subrosa:t/in': new Uint8Array(randomBytes(32)),
  'subrosa:t/lake': new Uint8Array(randomBytes(32)),
  'subrosa:t/out': new Uint8Array(randomBytes(32)),
})

describe('Delta tables in Azure Blob Storage (Azurite)', { skip: azuriteSkip() }, () => {
  let azurite: Azurite
  let lake: string
  let dir: string
  let resolve: StoreResolver
  before(async () => {
    azurite = await startAzurite()
    lake = await azurite.container('lake')
    dir = await mkdtemp(join(tmpdir(), 'subrosa-azure-delta-'))
    await mkdir(join(dir, 'scratch'), { mode: 0o700 })
    await duck(
      `COPY (SELECT i AS id, i % 4 AS kind, 'secret-' || i AS label FROM range(3000) t(i))
       TO '${dir}/plain.parquet' (FORMAT parquet)`,
    )
    await encryptParquetFile(
      join(dir, 'plain.parquet'),
      join(dir, 'src.parquet'),
      kms,
      'subrosa:t/in',
    )
    resolve = createStoreResolver({
      baseDir: dir,
      azure: { connectionString: azurite.connectionString },
    })
  })
  after(async () => {
    await azurite?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  const ctx = (): JobContext => ({
    kms,
    scratchDir: join(dir, 'scratch'),
    baseDir: dir,
    kmsInstance: { id: 'test', url: 'memory:' },
    resolveStore: resolve,
  })
  const job = (inputs: Record<string, unknown>, query: string, outputs: Record<string, unknown>) =>
    validateJob({
      apiVersion: 'subrosa/v1',
      kind: 'Job',
      metadata: { name: 'azure-delta' },
      policy: 't/p/w',
      inputs,
      query,
      outputs,
    })
  const readBack = async (table: string) => {
    await runJob(
      job({ t: { format: 'delta', uri: table, key: 't/lake' } }, 'SELECT id, kind, label FROM t', {
        out: { format: 'parquet', uri: 'out.parquet', key: 't/out' },
      }),
      ctx(),
    )
    return readParquetFile(join(dir, 'out.parquet'), kms, 'id')
  }

  it('appends to a partitioned table, reads it back (also from a checkpoint), ciphertext only', async () => {
    const table = `${lake}/tables/events`
    const src = { src: { format: 'parquet', uri: 'src.parquet', key: 't/in' } }
    const out = (extra = {}) => ({ t: { format: 'delta', uri: table, key: 't/lake', ...extra } })
    await runJob(
      job(src, 'SELECT * FROM src WHERE id < 2000', out({ partitionBy: ['kind'] })),
      ctx(),
    )
    await runJob(job(src, 'SELECT * FROM src WHERE id >= 2000', out()), ctx())
    const expected = await duck(`SELECT * FROM '${dir}/plain.parquet' ORDER BY id`)
    assert.deepEqual(await readBack(table), expected)
    assert.deepEqual(await readdir(join(dir, 'scratch')), [], 'scratch emptied')

    const { store, location } = resolve(table)
    const names = await store.list(location)
    assert.ok(names.includes(`_delta_log/${commitName(1)}`))
    assert.ok(names.some((n) => /^kind=3\/part-[0-9a-f-]+\.parquet$/.test(n)))
    for (const name of names) {
      const bytes = Buffer.from(await store.readBytes(joinLocation(location, name)))
      assert.equal(bytes.includes('secret-'), false, `${name} holds plaintext`)
    }

    // A checkpoint at version 1 replaces the commits it covers.
    const log = joinLocation(location, '_delta_log')
    const snapshot = await readSnapshot(store, location, {
      readCheckpoint: () => assert.fail('no checkpoint yet'),
    })
    const checkpoint = join(dir, 'checkpoint.parquet')
    await writeCheckpoint(checkpoint, [
      { protocol: snapshot.protocol },
      { metaData: snapshot.metadata },
      ...snapshot.files.map((add) => ({ add })),
    ])
    await store.upload(checkpoint, joinLocation(log, '00000000000000000001.checkpoint.parquet'))
    for (const v of [0, 1]) await store.delete(joinLocation(log, commitName(v)))
    const fromCheckpoint = await readSnapshot(store, location, {
      readCheckpoint: async (parts) => {
        const local = parts.map((_, i) => join(dir, `part-${i}.parquet`))
        for (const [i, part] of parts.entries()) await store.download(part, local[i] as string)
        return readCheckpointFiles(local, dir)
      },
    })
    assert.equal(fromCheckpoint.checkpoint, 1)
    assert.deepEqual(new Set(fromCheckpoint.files), new Set(snapshot.files))
    assert.deepEqual(await readBack(table), expected)
    assert.equal((await readFile(checkpoint)).includes('secret-'), false)
  })
})
