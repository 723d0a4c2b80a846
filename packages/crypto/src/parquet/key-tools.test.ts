// Key tools end to end on a DuckDB-written file: column keys under their own master keys, every
// algorithm and footer mode, external key material with rotation, and column access control.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { fileBytes, openTestDuckDb, sqlPath, type TestDuckDb, tempDir } from '../../test/helpers.ts'
import { createInMemoryKms } from '../kms.ts'
import { bytesSource, memorySink } from './byte-io.ts'
import { inspectParquet } from './inspect.ts'
import { parseKeyMaterial, parseKeyMaterialSidecar, rotateKeyMaterial } from './key-material.ts'
import { decryptParquetWithKms, encryptParquetWithKms } from './kms-parquet.ts'

const ROWS = 20_000
const TABLE = `SELECT i::INTEGER AS id, 'name_' || i AS name, i * 0.5 AS salary,
  [i, i + 1] AS pair, {'zip': (i % 90000)::VARCHAR, 'city': 'c' || (i % 7)} AS address
FROM range(${ROWS}) t(i)`
const key = () => new Uint8Array(randomBytes(32))

describe('key tools: column keys, external material, rotation, access control', () => {
  const dir = tempDir()
  let db: TestDuckDb
  let plain: Uint8Array
  let expected: string
  const masters = { footer: key(), pii: key(), money: key() }
  const kms = createInMemoryKms(masters)
  const digest = async (path: string, columns = '*') =>
    String(
      (
        await db.rows(
          `SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY id)) AS d FROM (SELECT ${columns} FROM read_parquet(${sqlPath(path)})) t`,
        )
      )[0]?.d,
    )

  before(async () => {
    db = await openTestDuckDb()
    const path = dir.file('plain.parquet')
    await db.run(`COPY (${TABLE}) TO ${sqlPath(path)} (FORMAT parquet, ROW_GROUP_SIZE 8192)`)
    plain = fileBytes(path)
    expected = await digest(path)
  })
  after(() => {
    db.close()
    dir.cleanup()
  })

  for (const algorithm of ['AES_GCM_V1', 'AES_GCM_CTR_V1'] as const) {
    for (const plaintextFooter of [false, true]) {
      it(`round-trips ${algorithm} with ${plaintextFooter ? 'a signed plaintext' : 'an encrypted'} footer and column keys`, async () => {
        const sink = memorySink()
        await encryptParquetWithKms(bytesSource(plain), sink, {
          masterKeyId: 'footer',
          columnMasterKeys: { pii: ['name', 'address.zip'], money: ['salary'] },
          kms,
          kmsInstanceId: 'test',
          kmsInstanceUrl: 'memory:',
          algorithm,
          plaintextFooter,
        })
        const info = await inspectParquet(bytesSource(sink.bytes()))
        assert.equal(info.algorithm, algorithm)
        assert.equal(info.footer, plaintextFooter ? 'signed-plaintext' : 'encrypted')
        const back = memorySink()
        const stats = await decryptParquetWithKms(bytesSource(sink.bytes()), back, { kms })
        assert.equal(stats.rows, ROWS)
        assert.equal(
          await digest(dir.file(`${algorithm}-${plaintextFooter}.parquet`, back.bytes())),
          expected,
        )
        if (plaintextFooter && algorithm === 'AES_GCM_V1') {
          // Legacy readers see the plaintext columns of a plaintext-footer file (DuckDB does not
          // open CTR files at all).
          const legacy = dir.file(`legacy-${algorithm}.parquet`, sink.bytes())
          const ids = await db.rows(`SELECT sum(id) AS s FROM read_parquet(${sqlPath(legacy)})`)
          assert.deepEqual(ids, [{ s: String((ROWS * (ROWS - 1)) / 2) }])
        }
      })
    }
  }

  it('keeps key material outside the file, and rotates master keys without rewriting it', async () => {
    const sink = memorySink()
    const stats = await encryptParquetWithKms(bytesSource(plain), sink, {
      masterKeyId: 'footer',
      columnMasterKeys: { pii: ['name'] },
      otherColumns: 'footer-key',
      kms,
      kmsInstanceId: 'test',
      kmsInstanceUrl: 'memory:',
      internalStorage: false,
    })
    const sidecar = stats.keyMaterial
    assert.ok(sidecar !== undefined)
    assert.deepEqual([...sidecar.keys()].sort(), ['columnKey0', 'footerKey'])
    const file = sink.bytes()
    const info = await inspectParquet(bytesSource(file))
    assert.deepEqual(info.footerKeyMetadata?.pkmt1, { keyReference: 'footerKey' })

    const newMasters = { footer: key(), pii: key() }
    const newKms = createInMemoryKms(newMasters)
    const rotated = await rotateKeyMaterial(sidecar, { from: kms, to: newKms })
    for (const ref of ['footerKey', 'columnKey0']) {
      const before = parseKeyMaterial(new TextEncoder().encode(sidecar.get(ref)))
      const after = parseKeyMaterial(new TextEncoder().encode(rotated.get(ref)))
      assert.ok(before.kind === 'material' && after.kind === 'material')
      assert.equal(after.masterKeyId, before.masterKeyId)
      assert.notEqual(after.wrappedKek, before.wrappedKek)
    }
    const back = memorySink()
    await decryptParquetWithKms(bytesSource(file), back, { kms: newKms, keyMaterial: rotated })
    assert.equal(await digest(dir.file('rotated.parquet', back.bytes())), expected)
    // The old master keys no longer open the rotated material.
    await assert.rejects(
      decryptParquetWithKms(bytesSource(file), memorySink(), { kms, keyMaterial: rotated }),
      { code: 'ERR_CRYPTO_AUTH' },
    )
    // The sidecar round-trips through its text form.
    const { encodeKeyMaterialSidecar } = await import('./key-material.ts')
    assert.deepEqual(parseKeyMaterialSidecar(encodeKeyMaterialSidecar(rotated)), rotated)
    assert.ok(!Buffer.from(file).includes('wrappedDEK'), 'no key material inside the file')
  })

  it('gives a reader granted some master keys those columns and nothing else', async () => {
    const sink = memorySink()
    await encryptParquetWithKms(bytesSource(plain), sink, {
      masterKeyId: 'footer',
      columnMasterKeys: { pii: ['name', 'address.zip'], money: ['salary'] },
      kms,
      kmsInstanceId: 'test',
      kmsInstanceUrl: 'memory:',
    })
    // This reader's KMS holds the footer and money master keys, not pii.
    const partial = createInMemoryKms({ footer: masters.footer, money: masters.money })
    await assert.rejects(
      decryptParquetWithKms(bytesSource(sink.bytes()), memorySink(), { kms: partial }),
      { code: 'ERR_CRYPTO_UNKNOWN_MASTER_KEY' },
    )
    const back = memorySink()
    const stats = await decryptParquetWithKms(bytesSource(sink.bytes()), back, {
      kms: partial,
      unreadableColumns: 'drop',
    })
    assert.deepEqual(stats.droppedColumns.sort(), ['address.zip', 'name'])
    const path = dir.file('partial.parquet', back.bytes())
    const described = await db.rows(`DESCRIBE SELECT * FROM read_parquet(${sqlPath(path)})`)
    assert.deepEqual(
      described.map((r) => [r.column_name, r.column_type]),
      [
        ['id', 'INTEGER'],
        ['salary', 'DECIMAL(21,1)'],
        ['pair', 'BIGINT[]'],
        ['address', 'STRUCT(city VARCHAR)'],
      ],
    )
    assert.equal(
      await digest(path, 'id, salary'),
      await digest(dir.file('p2.parquet', plain), 'id, salary'),
    )
    // The broker's refusal (ERR_KMS_NOT_GRANTED, as the SDK's BrokerCallError carries it) too.
    const broker = {
      wrapKey: kms.wrapKey,
      unwrapKey: async (wrapped: string, id: string) => {
        if (id !== 'pii') return kms.unwrapKey(wrapped, id)
        throw Object.assign(new Error('Workload acme/p/w is not granted pii:unwrap'), {
          code: 'ERR_KMS_NOT_GRANTED',
        })
      },
    }
    const viaBroker = await decryptParquetWithKms(bytesSource(sink.bytes()), memorySink(), {
      kms: broker,
      unreadableColumns: 'drop',
    })
    assert.deepEqual(viaBroker.droppedColumns.sort(), ['address.zip', 'name'])
    // A failure that is not a refusal is never taken for one.
    const broken = { ...partial, unwrapKey: async () => Promise.reject(new Error('network down')) }
    await assert.rejects(
      decryptParquetWithKms(bytesSource(sink.bytes()), memorySink(), {
        kms: broken,
        unreadableColumns: 'drop',
      }),
      /network down/,
    )
  })
})
