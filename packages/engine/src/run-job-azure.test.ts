// A job whose inputs and outputs live in Azure Blob Storage (Azurite on loopback): ciphertext is
// fetched into the scratch dir, outputs are uploaded, and nothing but ciphertext is in the lake.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createInMemoryKms } from '@subrosa/crypto'
import { validateJob } from '@subrosa/policy'
import { runJob } from './run-job.ts'
import { createStoreResolver } from './storage/resolve.ts'
import { type Azurite, azuriteSkip, startAzurite } from './testing/azurite.ts'
import { duck, encryptParquetFile, encryptStreamFile, readParquetFile } from './testing/files.ts'

const kms = createInMemoryKms({
  'subrosa:t/in': new Uint8Array(randomBytes(32)),
  'subrosa:t/out': new Uint8Array(randomBytes(32)),
})

describe('runJob over Azure Blob Storage (Azurite)', { skip: azuriteSkip() }, () => {
  let azurite: Azurite
  let lake: string
  let dir: string
  before(async () => {
    azurite = await startAzurite()
    lake = await azurite.container('lake')
    dir = await mkdtemp(join(tmpdir(), 'subrosa-azure-job-'))
    await mkdir(join(dir, 'scratch'), { mode: 0o700 })
    await duck(
      `COPY (SELECT i AS id, i % 5 AS kind, 'secret-' || i AS label FROM range(20000) t(i)) TO '${dir}/t.parquet' (FORMAT parquet)`,
    )
    await writeFile(join(dir, 'kinds.csv'), 'kind,name\n0,zero\n1,one\n2,two\n3,three\n4,four\n')
    await encryptParquetFile(
      join(dir, 't.parquet'),
      join(dir, 't.pme.parquet'),
      kms,
      'subrosa:t/in',
    )
    await encryptStreamFile(
      join(dir, 'kinds.csv'),
      join(dir, 'kinds.csv.srsa'),
      kms,
      'subrosa:t/in',
    )
  })
  after(async () => {
    await azurite?.stop()
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  })

  it('reads inputs from the lake and writes outputs to it, ciphertext only', async () => {
    const resolve = createStoreResolver({
      baseDir: dir,
      azure: { connectionString: azurite.connectionString },
    })
    const up = async (file: string) => {
      const { store, location } = resolve(`${lake}/raw/${file}`)
      await store.upload(join(dir, file), location)
    }
    await up('t.pme.parquet')
    await up('kinds.csv.srsa')
    const summary = await runJob(
      validateJob({
        apiVersion: 'subrosa/v1',
        kind: 'Job',
        metadata: { name: 'azure' },
        policy: 't/p/w',
        inputs: {
          t: { format: 'parquet', uri: `${lake}/raw/t.pme.parquet`, key: 't/in' },
          kinds: { format: 'csv', uri: `${lake}/raw/kinds.csv.srsa`, key: 't/in' },
        },
        query:
          'SELECT k.name, count(*) AS n FROM t JOIN kinds k USING (kind) GROUP BY 1 ORDER BY 1',
        outputs: { out: { format: 'parquet', uri: `${lake}/results/out.parquet`, key: 't/out' } },
      }),
      {
        kms,
        scratchDir: join(dir, 'scratch'),
        baseDir: dir,
        kmsInstance: { id: 'test', url: 'memory:' },
        resolveStore: resolve,
      },
    )
    assert.deepEqual(
      summary.outputs.map((o) => [o.name, o.rows]),
      [['out', 5]],
    )
    assert.deepEqual(await readdir(join(dir, 'scratch')), [], 'scratch emptied')
    const { store, location } = resolve(`${lake}/results/out.parquet`)
    assert.deepEqual(await store.list(`${lake}/results`), ['out.parquet'])
    await store.download(location, join(dir, 'out.parquet'))
    const raw = await readFile(join(dir, 'out.parquet'))
    assert.equal(raw.subarray(0, 4).toString(), 'PARE', 'the stored output is PME')
    assert.deepEqual(await readParquetFile(join(dir, 'out.parquet'), kms), [
      { name: 'four', n: '4000' },
      { name: 'one', n: '4000' },
      { name: 'three', n: '4000' },
      { name: 'two', n: '4000' },
      { name: 'zero', n: '4000' },
    ])
  })
})
