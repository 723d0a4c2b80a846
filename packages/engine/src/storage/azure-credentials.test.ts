import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { azureAuthFor, azureCredentialsFromEnv } from './azure-credentials.ts'

const KEY = Buffer.alloc(64, 7).toString('base64')

describe('azureAuthFor', () => {
  it('reads a shared key or a SAS from a connection string', () => {
    const cs = `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${KEY};EndpointSuffix=core.windows.net`
    assert.deepEqual(azureAuthFor({ connectionString: cs }, 'acme'), {
      kind: 'shared-key',
      accountName: 'acme',
      accountKey: KEY,
    })
    const sas =
      'BlobEndpoint=https://acme.blob.core.windows.net/;SharedAccessSignature=sv=2024-05-04&sp=rl&sig=YWJj%3D'
    assert.deepEqual(azureAuthFor({ connectionString: sas }, 'acme'), {
      kind: 'sas',
      sasToken: 'sv=2024-05-04&sp=rl&sig=YWJj%3D',
    })
  })

  it('takes account + key, and a SAS with or without its account and leading ?', () => {
    assert.equal(azureAuthFor({ accountName: 'acme', accountKey: KEY }, 'acme').kind, 'shared-key')
    assert.deepEqual(azureAuthFor({ sasToken: '?sv=1&sig=x' }, 'other'), {
      kind: 'sas',
      sasToken: 'sv=1&sig=x',
    })
    assert.deepEqual(
      azureAuthFor({ sasToken: 'sv=1&sig=x', accountName: 'acme' }, 'acme').kind,
      'sas',
    )
  })

  it('refuses credentials for another account or malformed ones, showing no secret', () => {
    const cases = [
      () => azureAuthFor({ accountName: 'acme', accountKey: KEY }, 'other'),
      () => azureAuthFor({ sasToken: 'sv=1&sig=x', accountName: 'acme' }, 'other'),
      () => azureAuthFor({ connectionString: `AccountName=acme;AccountKey=${KEY}` }, 'other'),
      () => azureAuthFor({ connectionString: `AccountKey=${KEY}` }, 'acme'),
      () => azureAuthFor({ connectionString: 'AccountName=acme' }, 'acme'),
      () => azureAuthFor({ connectionString: `garbage${KEY}` }, 'acme'),
      () => azureAuthFor({ accountName: 'acme', accountKey: 'not base64!' }, 'acme'),
      () => azureAuthFor({ sasToken: 'sv=1&sp=r' }, 'acme'),
      () => azureAuthFor({ sasToken: 'https://x/?sig=1' }, 'acme'),
    ]
    for (const f of cases)
      assert.throws(f, (e: Error & { code: string }) => {
        assert.equal(e.code, 'ERR_ENGINE_STORAGE_AUTH')
        assert.ok(!e.message.includes(KEY.slice(0, 12)) && !e.message.includes('base64!'))
        return true
      })
  })
})

describe('azureCredentialsFromEnv', () => {
  it('prefers the connection string, then account + key, then a SAS token', () => {
    assert.equal(azureCredentialsFromEnv({}), undefined)
    assert.deepEqual(
      azureCredentialsFromEnv({ AZURE_STORAGE_CONNECTION_STRING: 'cs', AZURE_STORAGE_KEY: KEY }),
      { connectionString: 'cs' },
    )
    assert.deepEqual(
      azureCredentialsFromEnv({
        AZURE_STORAGE_ACCOUNT: 'acme',
        AZURE_STORAGE_KEY: KEY,
        AZURE_STORAGE_SAS_TOKEN: 's',
      }),
      { accountName: 'acme', accountKey: KEY },
    )
    assert.deepEqual(azureCredentialsFromEnv({ AZURE_STORAGE_SAS_TOKEN: 'sv=1&sig=x' }), {
      sasToken: 'sv=1&sig=x',
    })
    assert.deepEqual(
      azureCredentialsFromEnv({
        AZURE_STORAGE_ACCOUNT: 'acme',
        AZURE_STORAGE_SAS_TOKEN: 'sv=1&sig=x',
        AZURE_STORAGE_CONNECTION_STRING: ' ',
      }),
      { sasToken: 'sv=1&sig=x', accountName: 'acme' },
    )
    assert.throws(() => azureCredentialsFromEnv({ AZURE_STORAGE_KEY: KEY }), {
      code: 'ERR_ENGINE_STORAGE_AUTH',
    })
  })
})
