import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  AccountSASPermissions,
  AccountSASResourceTypes,
  AccountSASServices,
  generateAccountSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob'
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  type Azurite,
  azuriteSkip,
  startAzurite,
} from '../testing/azurite.ts'
import { createAzureStore } from './azure.ts'
import { joinLocation } from './object-store.ts'

const MIB = 1024 * 1024

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

function sas(permissions: string): string {
  return generateAccountSASQueryParameters(
    {
      expiresOn: new Date(Date.now() + 3600_000),
      permissions: AccountSASPermissions.parse(permissions),
      resourceTypes: AccountSASResourceTypes.parse('sco').toString(),
      services: AccountSASServices.parse('b').toString(),
    },
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  ).toString()
}

describe('Azure store against Azurite', { skip: azuriteSkip() }, () => {
  let azurite: Azurite
  let lake: string
  let scratch: string
  before(async () => {
    azurite = await startAzurite()
    lake = await azurite.container('lake')
    scratch = await mkdtemp(join(tmpdir(), 'subrosa-azure-test-'))
  })
  after(async () => {
    await azurite?.stop()
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
  })

  it('round-trips a 21 MiB random file in 4 MiB blocks, with progress both ways', async () => {
    const store = createAzureStore({
      url: lake,
      credentials: { connectionString: azurite.connectionString },
      blockSize: 4 * MIB,
      singleShotSize: 4 * MIB,
    })
    const source = join(scratch, 'big.bin')
    await writeFile(source, randomBytes(21 * MIB + 12_345))
    const size = 21 * MIB + 12_345
    const at = joinLocation(lake, 'big/trips.parquet')
    const up: number[] = []
    assert.equal(await store.upload(source, at, (n) => up.push(n)), size)
    // Six blocks, each reported once it is stored: progress rises to the full size.
    assert.equal(up.length, 6)
    assert.ok(up.every((n, i) => n > (up[i - 1] ?? 0)))
    assert.equal(up.at(-1), size)
    assert.deepEqual(await store.stat(at), { size })
    const down: number[] = []
    const copy = join(scratch, 'big.copy')
    assert.equal(await store.download(at, copy, (n) => down.push(n)), size)
    assert.ok(down.length > 1)
    assert.equal(down.at(-1), size)
    assert.equal(await sha256(copy), await sha256(source))
  })

  it('lists under a prefix, relative, not beside it', async () => {
    const store = createAzureStore({
      url: lake,
      credentials: { connectionString: azurite.connectionString },
    })
    for (const name of ['p/q/1.json', 'p/q/0.json', 'p/r', 'pq', 'p2/x'])
      await store.putIfAbsent(joinLocation(lake, name), new TextEncoder().encode(name))
    assert.deepEqual(await store.list(joinLocation(lake, 'p')), ['q/0.json', 'q/1.json', 'r'])
    assert.deepEqual(await store.list(joinLocation(lake, 'p/q/')), ['0.json', '1.json'])
    const other = await azurite.container('other')
    assert.deepEqual(await store.list(other), [])
    const missing = joinLocation(`${azurite.serviceUrl}/no-such-container`, 'p')
    assert.deepEqual(await store.list(missing), [])
  })

  it('putIfAbsent twice: ERR_ENGINE_CONFLICT, the first content kept', async () => {
    const store = createAzureStore({
      url: lake,
      credentials: { accountName: AZURITE_ACCOUNT, accountKey: AZURITE_KEY },
    })
    const at = joinLocation(lake, 't/_delta_log/00000000000000000001.json')
    await store.putIfAbsent(at, new TextEncoder().encode('{"commitInfo":1}'))
    await assert.rejects(store.putIfAbsent(at, new TextEncoder().encode('{"commitInfo":2}')), {
      code: 'ERR_ENGINE_CONFLICT',
    })
    assert.equal(new TextDecoder().decode(await store.readBytes(at)), '{"commitInfo":1}')
    assert.equal(await store.stat(joinLocation(lake, 't/_delta_log/absent.json')), undefined)
  })

  it('a wrong account key: ERR_ENGINE_STORAGE_AUTH, the key in no message', async () => {
    const wrongKey = randomBytes(64).toString('base64')
    const store = createAzureStore({
      url: lake,
      credentials: { accountName: AZURITE_ACCOUNT, accountKey: wrongKey },
      maxTries: 1,
    })
    const at = joinLocation(lake, 'secret/x.bin')
    for (const attempt of [
      store.stat(at),
      store.readBytes(at),
      store.list(lake),
      store.putIfAbsent(at, new Uint8Array([1])),
    ]) {
      const error = await attempt.then(
        () => assert.fail('expected a refusal'),
        (e: unknown) => e as Error & { code: string; details: unknown },
      )
      assert.equal(error.code, 'ERR_ENGINE_STORAGE_AUTH')
      const shown = `${error.message} ${JSON.stringify(error)} ${JSON.stringify(error.details)}`
      assert.ok(!shown.includes(wrongKey) && !shown.includes(wrongKey.slice(0, 16)))
      assert.equal(error.cause, undefined)
    }
  })

  it('a SAS token works within its permissions and never shows in errors', async () => {
    const readOnly = sas('rl')
    const writer = createAzureStore({ url: lake, credentials: { sasToken: `?${sas('rwdlc')}` } })
    const at = joinLocation(lake, 'sas/object.bin')
    await writer.putIfAbsent(at, new Uint8Array([7, 7, 7]))
    const reader = createAzureStore({
      url: lake,
      credentials: { sasToken: readOnly, accountName: AZURITE_ACCOUNT },
      maxTries: 1,
    })
    assert.deepEqual(await reader.readBytes(at), new Uint8Array([7, 7, 7]))
    const local = join(scratch, 'sas.bin')
    await writeFile(local, 'x')
    const error = await reader.upload(local, at).then(
      () => assert.fail('a read-only SAS wrote'),
      (e: unknown) => e as Error & { code: string },
    )
    assert.equal(error.code, 'ERR_ENGINE_STORAGE_AUTH')
    const signature = new URLSearchParams(readOnly).get('sig') as string
    assert.ok(signature.length > 20)
    const shown = `${error.message} ${JSON.stringify(error)}`
    assert.ok(!shown.includes(signature) && !shown.includes(encodeURIComponent(signature)))
    assert.deepEqual(await reader.readBytes(at), new Uint8Array([7, 7, 7]))
    assert.equal((await readFile(local)).length, 1)
  })

  it('refuses locations of another account, a container as object, and bad URLs', async () => {
    const store = createAzureStore({
      url: lake,
      credentials: { connectionString: azurite.connectionString },
    })
    await assert.rejects(store.stat('https://acme.blob.core.windows.net/lake/x'), {
      code: 'ERR_ENGINE_STORAGE',
    })
    await assert.rejects(store.readBytes(lake), { code: 'ERR_ENGINE_STORAGE' })
    await assert.rejects(store.stat(`${lake}/x?sig=abc`), { code: 'ERR_ENGINE_UNSUPPORTED' })
    await assert.rejects(store.stat('http://10.0.0.1:10000/devstoreaccount1/lake/x'), {
      code: 'ERR_ENGINE_UNSUPPORTED',
    })
    assert.throws(
      () => createAzureStore({ url: 's3://bucket/x', credentials: { sasToken: 'sig=a' } }),
      {
        code: 'ERR_ENGINE_UNSUPPORTED',
      },
    )
    assert.throws(
      () =>
        createAzureStore({
          url: lake,
          credentials: { accountName: 'acme', accountKey: AZURITE_KEY },
        }),
      { code: 'ERR_ENGINE_STORAGE_AUTH' },
    )
  })

  it('download of a blob that disappears leaves no partial file', async () => {
    const store = createAzureStore({
      url: lake,
      credentials: { connectionString: azurite.connectionString },
    })
    const target = join(scratch, 'never.bin')
    await assert.rejects(store.download(joinLocation(lake, 'nope.bin'), target), {
      code: 'ERR_ENGINE_STORAGE',
    })
    await assert.rejects(readFile(target), { code: 'ENOENT' })
  })
})
