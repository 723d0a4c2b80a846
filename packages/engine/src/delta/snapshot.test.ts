// Snapshot reconstruction over hand-written logs: replay, time travel, checkpoints (classic and
// multi-part, written by DuckDB with the protocol's struct columns), malformed logs, refusals.
import assert from 'node:assert/strict'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { createLocalStore } from '../storage/object-store.ts'
import { writeCheckpoint } from '../testing/delta.ts'
import { readCheckpointFiles } from './checkpoint.ts'
import { partitionDirectory } from './schema.ts'
import { checkWritable, commitName, readSnapshot } from './snapshot.ts'

const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: true, metadata: {} },
    { name: 'region', type: 'string', nullable: true, metadata: {} },
  ],
})
const PROTOCOL = { protocol: { minReaderVersion: 1, minWriterVersion: 2 } }
const METADATA = {
  metaData: {
    id: 'c5a6b5d4-0000-4000-8000-000000000001',
    format: { provider: 'parquet', options: {} },
    schemaString: SCHEMA,
    partitionColumns: ['region'],
    configuration: {},
    createdTime: 1,
  },
}
const add = (path: string, region: string | null) => ({
  add: { path, partitionValues: { region }, size: 10, modificationTime: 1, dataChange: true },
})
const remove = (path: string) => ({ remove: { path, deletionTimestamp: 2, dataChange: true } })

describe('Delta snapshots', () => {
  let dir: string
  let n = 0
  const store = createLocalStore()
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-delta-log-'))
  })
  after(() => rm(dir, { recursive: true, force: true }))

  /** A table whose log holds the given commits (each a list of actions, or raw text). */
  async function table(commits: readonly (readonly object[] | string | undefined)[]) {
    const root = join(dir, `t${++n}`)
    await mkdir(join(root, '_delta_log'), { recursive: true })
    for (const [v, commit] of commits.entries()) {
      if (commit === undefined) continue
      const text =
        typeof commit === 'string' ? commit : commit.map((a) => JSON.stringify(a)).join('\n')
      await writeFile(join(root, '_delta_log', commitName(v)), `${text}\n`)
    }
    return root
  }
  const readCheckpoint = (paths: readonly string[]) => readCheckpointFiles(paths, dir)
  const read = (root: string, version?: number) =>
    readSnapshot(store, root, { version, readCheckpoint })
  const paths = async (root: string, version?: number) =>
    (await read(root, version)).files.map((f) => [f.path, f.partitionValues.region ?? null])

  const HISTORY = [
    [{ commitInfo: { operation: 'WRITE' } }, PROTOCOL, METADATA, add('region=a/f1.parquet', 'a')],
    [add('region=b/f2.parquet', 'b'), add('region=x%253Ay/f3.parquet', 'x:y')],
    [remove('region=a/f1.parquet'), { txn: { appId: 'x', version: 1 } }],
  ]

  it('replays commits: adds, removes, partition values; time travel to any version', async () => {
    const root = await table(HISTORY)
    const latest = await read(root)
    assert.equal(latest.version, 2)
    assert.equal(latest.checkpoint, undefined)
    assert.deepEqual(latest.metadata.partitionColumns, ['region'])
    assert.deepEqual(
      latest.schema.fields.map((f) => f.name),
      ['id', 'region'],
    )
    assert.deepEqual(await paths(root), [
      ['region=b/f2.parquet', 'b'],
      ['region=x%253Ay/f3.parquet', 'x:y'],
    ])
    assert.deepEqual(await paths(root, 1), [
      ['region=a/f1.parquet', 'a'],
      ['region=b/f2.parquet', 'b'],
      ['region=x%253Ay/f3.parquet', 'x:y'],
    ])
    assert.deepEqual(await paths(root, 0), [['region=a/f1.parquet', 'a']])
    await assert.rejects(read(root, 3), { code: 'ERR_ENGINE_INPUT' })
    await assert.rejects(read(join(dir, 'nothing')), { code: 'ERR_ENGINE_INPUT' })
  })

  it('re-adding a removed path in a later commit brings it back; a remove by URI matches', async () => {
    const root = await table([
      ...HISTORY,
      [add('region=a/f1.parquet', 'a'), remove('region=x%253Ay/f3.parquet')],
    ])
    assert.deepEqual(await paths(root), [
      ['region=b/f2.parquet', 'b'],
      ['region=a/f1.parquet', 'a'],
    ])
  })

  it('starts from a checkpoint and equals the JSON replay (classic, then multi-part)', async () => {
    const root = await table(HISTORY)
    const replayed = await read(root)
    const state = [
      PROTOCOL,
      METADATA,
      add('region=b/f2.parquet', 'b'),
      remove('region=a/f1.parquet'),
    ]
    state.push(add('region=x%253Ay/f3.parquet', 'x:y'))
    // A checkpoint at version 1 would hold f1 too; at 2 it holds the live files and a tombstone.
    const log = join(root, '_delta_log')
    await writeCheckpoint(join(log, '00000000000000000002.checkpoint.parquet'), state)
    // The commits it covers are gone: only the checkpoint can give the state.
    for (const v of [0, 1, 2]) await rm(join(log, commitName(v)))
    const fromCheckpoint = await read(root)
    assert.equal(fromCheckpoint.checkpoint, 2)
    assert.deepEqual(
      { ...fromCheckpoint, checkpoint: undefined },
      { ...replayed, checkpoint: undefined },
    )
    await rm(join(log, '00000000000000000002.checkpoint.parquet'))
    await writeCheckpoint(
      join(log, '00000000000000000002.checkpoint.0000000001.0000000002.parquet'),
      state.slice(0, 3),
    )
    // A multi-part checkpoint with a part missing is ignored (and here nothing else is left).
    await assert.rejects(read(root), { code: 'ERR_ENGINE_INPUT' })
    await writeCheckpoint(
      join(log, '00000000000000000002.checkpoint.0000000002.0000000002.parquet'),
      state.slice(3),
    )
    const fromParts = await read(root)
    assert.equal(fromParts.checkpoint, 2)
    assert.deepEqual(
      { ...fromParts, checkpoint: undefined, files: new Set(fromParts.files) },
      { ...replayed, checkpoint: undefined, files: new Set(replayed.files) },
    )
  })

  it('time travel does not use a checkpoint newer than the version', async () => {
    const root = await table(HISTORY)
    await writeCheckpoint(join(root, '_delta_log', '00000000000000000002.checkpoint.parquet'), [
      PROTOCOL,
      METADATA,
    ])
    assert.deepEqual(await paths(root), [])
    assert.equal((await read(root, 1)).files.length, 3)
    // Once the commits before the checkpoint are cleaned up, only versions from it on can be read.
    await rm(join(root, '_delta_log', commitName(0)))
    await assert.rejects(read(root, 1), { code: 'ERR_ENGINE_INPUT' })
    assert.equal((await read(root, 2)).version, 2)
  })

  it('refuses malformed logs with ERR_ENGINE_DELTA_LOG, naming no content', async () => {
    const cases: (readonly (readonly object[] | string | undefined)[])[] = [
      [`${JSON.stringify(PROTOCOL)}\n{"metaData": {"id": "secret-value"`],
      [[PROTOCOL, METADATA, { add: { path: 'f.parquet', partitionValues: {}, dataChange: true } }]],
      [[PROTOCOL, METADATA], undefined, [add('f.parquet', null)]],
      [[PROTOCOL, add('f.parquet', null)]],
      [[METADATA]],
      [[PROTOCOL, METADATA, add('../outside.parquet', null)]],
      [[PROTOCOL, METADATA, add('a/%zz.parquet', null)]],
      [[PROTOCOL, { metaData: { ...METADATA.metaData, schemaString: '{"type":"struct"' } }]],
      ['[1, 2]'],
    ]
    for (const commits of cases) {
      const error = await read(await table(commits)).then(
        () => assert.fail('accepted a malformed log'),
        (e: unknown) => e as { code: string; message: string },
      )
      assert.equal(error.code, 'ERR_ENGINE_DELTA_LOG', JSON.stringify(commits))
      assert.doesNotMatch(error.message, /secret-value/)
    }
  })

  it('refuses reader features and protocols it does not support', async () => {
    const protocols = [
      { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['deletionVectors'] },
      { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['columnMapping'] },
      { minReaderVersion: 2, minWriterVersion: 5 },
      { minReaderVersion: 4, minWriterVersion: 7 },
    ]
    for (const protocol of protocols)
      await assert.rejects(read(await table([[{ protocol }, METADATA]])), {
        code: 'ERR_ENGINE_DELTA_UNSUPPORTED',
      })
    const ntz = { minReaderVersion: 3, minWriterVersion: 7, readerFeatures: ['timestampNtz'] }
    assert.equal((await read(await table([[{ protocol: ntz }, METADATA]]))).version, 0)
    await assert.rejects(
      read(await table([[PROTOCOL, METADATA, { add: { ...add('f', null).add, path: '/abs/f' } }]])),
      { code: 'ERR_ENGINE_DELTA_UNSUPPORTED' },
    )
    const other = { metaData: { ...METADATA.metaData, format: { provider: 'orc' } } }
    await assert.rejects(read(await table([[PROTOCOL, other]])), {
      code: 'ERR_ENGINE_DELTA_UNSUPPORTED',
    })
    await assert.rejects(read(await table([[PROTOCOL, METADATA, { sidecar: { path: 'x' } }]])), {
      code: 'ERR_ENGINE_DELTA_UNSUPPORTED',
    })
  })

  it('refuses appends to tables with writer requirements it does not meet', async () => {
    const writable = async (protocol: object, metadata: object = METADATA) =>
      checkWritable(await read(await table([[{ protocol }, metadata]])))
    await writable({ minReaderVersion: 1, minWriterVersion: 2 })
    await writable({ minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['appendOnly'] })
    for (const protocol of [
      { minReaderVersion: 1, minWriterVersion: 4 },
      { minReaderVersion: 1, minWriterVersion: 7, writerFeatures: ['checkConstraints'] },
    ])
      await assert.rejects(writable(protocol), { code: 'ERR_ENGINE_DELTA_UNSUPPORTED' })
    const invariant = JSON.parse(SCHEMA) as { fields: { metadata: object }[] }
    invariant.fields[0] = {
      ...invariant.fields[0],
      metadata: { 'delta.invariants': '{"expression":{"expression":"id > 0"}}' },
    }
    await assert.rejects(
      writable(PROTOCOL.protocol, {
        metaData: { ...METADATA.metaData, schemaString: JSON.stringify(invariant) },
      }),
      { code: 'ERR_ENGINE_DELTA_UNSUPPORTED' },
    )
  })

  it('escapes partition directory names as Hive does', () => {
    assert.equal(partitionDirectory('region', 'x:y/z'), 'region=x%3Ay%2Fz')
    assert.equal(partitionDirectory('day', '2024-01-01 10:00:00'), 'day=2024-01-01 10%3A00%3A00')
    assert.equal(partitionDirectory('a=b', null), 'a%3Db=__HIVE_DEFAULT_PARTITION__')
  })
})
