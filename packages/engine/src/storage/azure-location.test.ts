import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseAzureLocation, redactLocation } from './azure-location.ts'
import { joinLocation } from './object-store.ts'

describe('parseAzureLocation', () => {
  it('maps blob, dfs, abfss and wasbs URLs to one canonical blob URL', () => {
    const expected = {
      account: 'acme',
      serviceUrl: 'https://acme.blob.core.windows.net',
      container: 'lake',
      path: 'trips/2024/part 1.parquet',
      location: 'https://acme.blob.core.windows.net/lake/trips/2024/part%201.parquet',
    }
    for (const uri of [
      'https://acme.blob.core.windows.net/lake/trips/2024/part%201.parquet',
      'https://ACME.blob.core.windows.net/lake/trips/2024/part 1.parquet',
      'https://acme.dfs.core.windows.net/lake/trips/2024/part%201.parquet',
      'abfss://lake@acme.dfs.core.windows.net/trips/2024/part%201.parquet',
      'wasbs://lake@acme.blob.core.windows.net/trips/2024/part%201.parquet',
    ])
      assert.deepEqual(parseAzureLocation(uri), expected, uri)
  })

  it('takes a container alone, a trailing slash, and sovereign clouds', () => {
    assert.equal(parseAzureLocation('abfss://lake@acme.dfs.core.windows.net/').path, '')
    assert.equal(parseAzureLocation('https://acme.blob.core.windows.net/lake/t/').path, 't')
    assert.equal(
      parseAzureLocation('https://acme.blob.core.chinacloudapi.cn/lake/x').serviceUrl,
      'https://acme.blob.core.chinacloudapi.cn',
    )
  })

  it('takes path-style URLs on loopback only (Azurite)', () => {
    const at = parseAzureLocation('http://127.0.0.1:10000/devstoreaccount1/lake/a/b.json')
    assert.equal(at.serviceUrl, 'http://127.0.0.1:10000/devstoreaccount1')
    assert.equal(at.account, 'devstoreaccount1')
    assert.equal(at.container, 'lake')
    assert.equal(at.path, 'a/b.json')
    assert.equal(parseAzureLocation('http://localhost:10000/dev1/lake').path, '')
    assert.equal(
      parseAzureLocation('http://[::1]:10000/dev1/lake/x').serviceUrl,
      'http://[::1]:10000/dev1',
    )
  })

  it('round-trips with joinLocation', () => {
    const root = parseAzureLocation('abfss://lake@acme.dfs.core.windows.net/t').location
    const at = parseAzureLocation(joinLocation(root, '_delta_log/00000000000000000000.json'))
    assert.equal(at.path, 't/_delta_log/00000000000000000000.json')
    assert.equal(
      parseAzureLocation(joinLocation(root, 'a b/c#d?.parquet')).path,
      't/a b/c#d?.parquet',
    )
  })

  it('refuses other forms with ERR_ENGINE_UNSUPPORTED', () => {
    for (const uri of [
      's3://bucket/key',
      'gs://bucket/key',
      'abfs://lake@acme.dfs.core.windows.net/x',
      'wasb://lake@acme.blob.core.windows.net/x',
      'abfss://acme.dfs.core.windows.net/lake/x',
      'abfss://lake@acme.blob.core.windows.net/x',
      'http://acme.blob.core.windows.net/lake/x',
      'https://acme.blob.core.windows.net:8443/lake/x',
      'https://example.com/lake/x',
      'http://10.1.2.3:10000/devstoreaccount1/lake/x',
      'https://acme.blob.core.windows.net/',
      'https://acme.blob.core.windows.net/Lake/x',
      'https://acme.blob.core.windows.net/la--ke/x',
      'https://acme.blob.core.windows.net/lake//x',
      'https://acme.blob.core.windows.net/lake/%E0%A4%A',
      'https://user@acme.blob.core.windows.net/lake/x',
      'https://a.blob.core.windows.net/lake/x',
      'http://127.0.0.1:10000/Dev/lake/x',
      `https://acme.blob.core.windows.net/lake/${'x'.repeat(1025)}`,
      'not a url',
    ])
      assert.throws(() => parseAzureLocation(uri), { code: 'ERR_ENGINE_UNSUPPORTED' }, uri)
  })

  it('refuses SAS tokens in a location and never repeats them', () => {
    const uri =
      'https://acme.blob.core.windows.net/lake/x?sv=2024-05-04&sig=c2VjcmV0LXNpZ25hdHVyZQ%3D%3D'
    assert.throws(
      () => parseAzureLocation(uri),
      (e: Error & { code: string }) =>
        e.code === 'ERR_ENGINE_UNSUPPORTED' &&
        !e.message.includes('sig=') &&
        !e.message.includes('c2VjcmV0'),
    )
    assert.throws(() => parseAzureLocation('https://acme.blob.core.windows.net/lake/x?'), {
      code: 'ERR_ENGINE_UNSUPPORTED',
    })
    assert.throws(
      () => parseAzureLocation('https://u:hunter2@acme.blob.core.windows.net/lake/x'),
      (e: Error) => !e.message.includes('hunter2'),
    )
  })
})

describe('redactLocation', () => {
  it('drops query strings, fragments and passwords', () => {
    assert.equal(
      redactLocation('https://a.blob.core.windows.net/c/x?sig=abc#f'),
      'https://a.blob.core.windows.net/c/x?<redacted>',
    )
    assert.equal(redactLocation('https://u:p4ss@h/c'), 'https://u:<redacted>@h/c')
    assert.equal(
      redactLocation('abfss://lake@acme.dfs.core.windows.net/x'),
      'abfss://lake@acme.dfs.core.windows.net/x',
    )
    assert.ok(redactLocation(`/${'x'.repeat(400)}`).length <= 301)
  })
})
