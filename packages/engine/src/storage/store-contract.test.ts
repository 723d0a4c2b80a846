import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type Azurite, azuriteSkip, startAzurite } from '../testing/azurite.ts'
import { type StoreUnderTest, storeContract } from '../testing/store-contract.ts'
import { createAzureStore } from './azure.ts'
import { createLocalStore, joinLocation } from './object-store.ts'

// The same cases against both stores: what a job or the Delta log sees does not depend on
// where the data lives.
let scratch: string
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'subrosa-store-contract-'))
})
after(async () => {
  if (scratch !== undefined) await rm(scratch, { recursive: true, force: true })
})

describe('ObjectStore contract: local files', () => {
  const store = createLocalStore()
  storeContract.forEach((c, i) => {
    it(c.name, async () => {
      const t: StoreUnderTest = { store, root: join(scratch, `local-${i}`), scratch }
      await c.run(t)
    })
  })
})

describe('ObjectStore contract: Azure Blob (Azurite)', { skip: azuriteSkip() }, () => {
  let azurite: Azurite
  let lake: string
  before(async () => {
    azurite = await startAzurite()
    lake = await azurite.container('contract')
  })
  after(async () => {
    await azurite?.stop()
  })
  storeContract.forEach((c, i) => {
    it(c.name, async () => {
      const store = createAzureStore({
        url: lake,
        credentials: { connectionString: azurite.connectionString },
      })
      await c.run({ store, root: joinLocation(lake, `case-${i}`), scratch })
    })
  })
})
