import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { pathToFileURL } from 'node:url'
import type { JobContext } from '../adapters.ts'
import { createStoreResolver } from './resolve.ts'

const KEY = Buffer.alloc(64, 1).toString('base64')

describe('createStoreResolver', () => {
  it('resolves paths and file: URLs to the local store', () => {
    const resolve = createStoreResolver({ baseDir: '/jobs/acme' })
    assert.deepEqual(
      { ...resolve('data/trips.parquet'), store: resolve('data/trips.parquet').store.kind },
      { store: 'local', location: join('/jobs/acme', 'data/trips.parquet') },
    )
    assert.equal(resolve('/lake/x.parquet').location, '/lake/x.parquet')
    assert.equal(resolve(pathToFileURL('/lake/y z.parquet').href).location, '/lake/y z.parquet')
  })

  it('gives one Azure store per account and canonical blob URLs', () => {
    const resolve = createStoreResolver({
      baseDir: '/jobs',
      azure: { accountName: 'acme', accountKey: KEY },
    })
    const a = resolve('abfss://lake@acme.dfs.core.windows.net/trips')
    const b = resolve('https://acme.blob.core.windows.net/results/out.parquet')
    assert.equal(a.store.kind, 'azure')
    assert.equal(a.store, b.store)
    assert.equal(a.location, 'https://acme.blob.core.windows.net/lake/trips')
    assert.notEqual(resolve('http://127.0.0.1:10000/acme/lake/x').store, a.store)
  })

  it('refuses other schemes, bad Azure URLs, and Azure without or with wrong credentials', () => {
    const resolve = createStoreResolver({
      baseDir: '/jobs',
      azure: { accountName: 'acme', accountKey: KEY },
    })
    for (const uri of ['s3://bucket/x', 'gs://bucket/x', 'ftp://h/x', 'https://example.com/lake/x'])
      assert.throws(() => resolve(uri), { code: 'ERR_ENGINE_UNSUPPORTED' }, uri)
    assert.throws(() => resolve('https://other.blob.core.windows.net/lake/x'), {
      code: 'ERR_ENGINE_STORAGE_AUTH',
    })
    const bare = createStoreResolver({ baseDir: '/jobs' })
    assert.throws(() => bare('abfss://lake@acme.dfs.core.windows.net/x'), {
      code: 'ERR_ENGINE_STORAGE_AUTH',
    })
    assert.equal(bare('x.parquet').store.kind, 'local')
  })

  it('fits JobContext.resolveStore', () => {
    const resolveStore: JobContext['resolveStore'] = createStoreResolver({ baseDir: '/jobs' })
    assert.equal(resolveStore?.('a.parquet').location, join('/jobs', 'a.parquet'))
  })
})
