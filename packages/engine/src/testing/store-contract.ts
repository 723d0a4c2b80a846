// The behaviour every ObjectStore must share, as test cases run against each implementation
// (local files, Azure through Azurite), so that jobs and the Delta log work alike on both.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { joinLocation, type ObjectStore } from '../storage/object-store.ts'

/** A store under test: an empty root location in it and a local scratch dir. */
export type StoreUnderTest = {
  readonly store: ObjectStore
  readonly root: string
  readonly scratch: string
}

/** One contract case; `root` is fresh for each case. */
export type StoreContractCase = {
  readonly name: string
  run(t: StoreUnderTest): Promise<void>
}

const text = (s: string) => new TextEncoder().encode(s)

/** The cases of the ObjectStore contract. */
export const storeContract: readonly StoreContractCase[] = [
  {
    name: 'stat, readBytes and download of an absent object: undefined, then ERR_ENGINE_STORAGE',
    async run({ store, root, scratch }) {
      const absent = joinLocation(root, 'nothing/here.bin')
      assert.equal(await store.stat(absent), undefined)
      await assert.rejects(store.readBytes(absent), { code: 'ERR_ENGINE_STORAGE' })
      await assert.rejects(store.download(absent, join(scratch, 'absent.bin')), {
        code: 'ERR_ENGINE_STORAGE',
      })
    },
  },
  {
    name: 'putIfAbsent creates once; a second put is ERR_ENGINE_CONFLICT and keeps the first',
    async run({ store, root }) {
      const at = joinLocation(root, '_delta_log/00000000000000000000.json')
      await store.putIfAbsent(at, text('first'))
      await assert.rejects(store.putIfAbsent(at, text('second, longer')), {
        code: 'ERR_ENGINE_CONFLICT',
      })
      assert.deepEqual(await store.readBytes(at), text('first'))
      assert.deepEqual(await store.stat(at), { size: 5 })
    },
  },
  {
    name: 'upload then download round-trips bytes, reports progress, and upload replaces',
    async run({ store, root, scratch }) {
      const bytes = randomBytes(300_000)
      await writeFile(join(scratch, 'in.bin'), bytes)
      const at = joinLocation(root, 'data/part 1.bin')
      const up: number[] = []
      assert.equal(await store.upload(join(scratch, 'in.bin'), at, (n) => up.push(n)), bytes.length)
      assert.equal(up.at(-1), bytes.length)
      const down: number[] = []
      const out = join(scratch, 'out.bin')
      assert.equal(await store.download(at, out, (n) => down.push(n)), bytes.length)
      assert.equal(down.at(-1), bytes.length)
      assert.ok(down.every((n, i) => i === 0 || n >= (down[i - 1] as number)))
      assert.ok(bytes.equals(await readFile(out)))
      await writeFile(join(scratch, 'in2.bin'), text('replaced'))
      await store.upload(join(scratch, 'in2.bin'), at)
      assert.deepEqual(await store.readBytes(at), text('replaced'))
    },
  },
  {
    name: 'list gives the names under a prefix, relative and sorted, and nothing beside it',
    async run({ store, root }) {
      for (const name of ['t/b.parquet', 't/a.parquet', 't/_delta_log/0.json', 't2/x', 'tx'])
        await store.putIfAbsent(joinLocation(root, name), text(name))
      assert.deepEqual(await store.list(joinLocation(root, 't')), [
        '_delta_log/0.json',
        'a.parquet',
        'b.parquet',
      ])
      assert.deepEqual(await store.list(joinLocation(root, 't/_delta_log')), ['0.json'])
      assert.deepEqual(await store.list(joinLocation(root, 'absent')), [])
    },
  },
  {
    name: 'delete removes an object; deleting an absent one is no error',
    async run({ store, root }) {
      const at = joinLocation(root, 'gone.bin')
      await store.putIfAbsent(at, text('x'))
      await store.delete(at)
      assert.equal(await store.stat(at), undefined)
      await store.delete(at)
      await store.putIfAbsent(at, text('again'))
      assert.deepEqual(await store.readBytes(at), text('again'))
    },
  },
]
