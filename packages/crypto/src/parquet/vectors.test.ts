// Real vectors from apache/parquet-testing, read in place from ../shared/vectors (never copied).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { fromUtf8, toHex, utf8 } from '@subrosa/core'
import {
  blob,
  haveVectors,
  openTestDuckDb,
  PARQUET_VECTORS,
  readVector,
  sqlPath,
  type TestDuckDb,
  tempDir,
  VECTOR_KEYS,
  vectorKey,
} from '../../test/helpers.ts'
import { createInMemoryKms } from '../kms.ts'
import { localUnwrap } from '../wrap.ts'
import { bytesSource, memorySink } from './byte-io.ts'
import { decryptParquet } from './decrypt-parquet.ts'
import { inspectParquet, readParquetFooter } from './inspect.ts'
import { parseKeyMaterial, parseKeyMaterialSidecar, unwrapKeyMaterial } from './key-material.ts'
import { decryptParquetWithKms } from './kms-parquet.ts'

const UNIFORM = [
  { file: 'uniform_encryption.parquet.encrypted', key: VECTOR_KEYS.footer128 },
  { file: 'aes256/uniform_encryption.parquet.encrypted', key: VECTOR_KEYS.footer256 },
] as const
const COLUMNS = [
  'boolean_field',
  'int32_field',
  'int64_field',
  'int96_field',
  'float_field',
  'double_field',
  'ba_field',
  'flba_field',
]

async function decryptVector(file: string, key: Uint8Array) {
  const sink = memorySink()
  const seen: (string | undefined)[] = []
  const stats = await decryptParquet(bytesSource(readVector(file)), sink, {
    keyRetriever: (metadata) => {
      seen.push(metadata === undefined ? undefined : fromUtf8(metadata))
      return key
    },
  })
  return { stats, bytes: sink.bytes(), seen }
}

describe('parquet-testing vectors', () => {
  const dir = tempDir()
  let db: TestDuckDb
  before(async () => {
    db = await openTestDuckDb()
  })
  after(() => {
    db.close()
    dir.cleanup()
  })

  it('decrypts uniform_encryption (AES-128 and AES-256) into Parquet DuckDB reads', async (t) => {
    if (!haveVectors(t)) return
    const tables: Record<string, unknown>[][] = []
    for (const { file, key } of UNIFORM) {
      const { stats, bytes, seen } = await decryptVector(file, key)
      assert.deepEqual(seen, ['kf'])
      assert.equal(stats.rows, 50)
      assert.equal(stats.rowGroups, 1)
      assert.equal(stats.columns, 8)
      assert.equal(fromUtf8(bytes.subarray(0, 4)), 'PAR1')
      const path = dir.file(`${file.replace('/', '_')}.parquet`, bytes)
      const described = await db.rows(`DESCRIBE SELECT * FROM read_parquet(${sqlPath(path)})`)
      assert.deepEqual(
        described.map((r) => r.column_name),
        COLUMNS,
      )
      const rows = await db.rows(`SELECT * FROM read_parquet(${sqlPath(path)})`)
      assert.equal(rows.length, 50)
      tables.push(rows)

      // DuckDB decrypts the flat columns of the original itself (it fails on the list column,
      // a DuckDB bug): ours must agree on every one of them.
      const original = new URL(`data/${file}`, PARQUET_VECTORS).pathname
      const flat =
        'boolean_field, int32_field, int96_field, float_field, double_field, ba_field, flba_field'
      const theirs = await db.rows(
        `SELECT ${flat} FROM read_parquet(${sqlPath(original)}, encryption_config = {footer_key_value: $1::BLOB})`,
        [blob(key)],
      )
      const ours = await db.rows(`SELECT ${flat} FROM read_parquet(${sqlPath(path)})`)
      assert.deepEqual(ours, theirs)

      // The generator of these files (parquet-cpp test-encryption-util.h): row i holds
      // boolean i%2==0, float i*1.1, double i*1.1111111, list [2i, 2i+1] * 10^12,
      // ba "parquet%03d" on even rows else NULL, flba 10 bytes of value i.
      const facts = await db.rows(
        `SELECT count(*) AS n,
           count(*) FILTER (WHERE boolean_field <> (rn % 2 = 0)) AS bad_bool,
           count(*) FILTER (WHERE abs(double_field - rn * 1.1111111) > 1e-9) AS bad_double,
           count(*) FILTER (WHERE int64_field <> [2 * rn * 1000000000000, (2 * rn + 1) * 1000000000000]) AS bad_list,
           count(*) FILTER (WHERE ba_field IS DISTINCT FROM CASE WHEN rn % 2 = 0 THEN ('parquet' || lpad(rn::VARCHAR, 3, '0'))::BLOB END) AS bad_ba,
           count(*) FILTER (WHERE flba_field <> unhex(repeat(printf('%02x', rn), 10))) AS bad_flba
         FROM (SELECT *, (row_number() OVER () - 1)::BIGINT AS rn FROM read_parquet(${sqlPath(path)}))`,
      )
      assert.deepEqual(facts, [
        { n: '50', bad_bool: '0', bad_double: '0', bad_list: '0', bad_ba: '0', bad_flba: '0' },
      ])
    }
    // Both files hold the same data.
    assert.deepEqual(tables[0], tables[1])
  })

  it('reads the footer and inspects without a key', async (t) => {
    if (!haveVectors(t)) return
    const footer = await readParquetFooter(bytesSource(readVector(UNIFORM[0].file)), {
      keyRetriever: () => VECTOR_KEYS.footer128,
    })
    assert.equal(footer.encrypted, true)
    assert.equal(footer.numRows, 50)
    assert.deepEqual(footer.footerKeyMetadata, utf8('kf'))
    assert.deepEqual(
      footer.columns.map((c) => [c.path.join('.'), c.physicalType]),
      [
        ['boolean_field', 'BOOLEAN'],
        ['int32_field', 'INT32'],
        ['int64_field', 'INT64'], // a repeated int64 in the C++-written file
        ['int96_field', 'INT96'],
        ['float_field', 'FLOAT'],
        ['double_field', 'DOUBLE'],
        ['ba_field', 'BYTE_ARRAY'],
        ['flba_field', 'FIXED_LEN_BYTE_ARRAY'],
      ],
    )
    const java = await readParquetFooter(bytesSource(readVector(UNIFORM[1].file)), {
      keyRetriever: () => VECTOR_KEYS.footer256,
    })
    assert.equal(java.createdBy?.startsWith('parquet-mr version 1.17'), true)
    assert.deepEqual(java.columns[2], {
      path: ['int64_field', 'list', 'element'],
      physicalType: 'INT64',
    })
    const info = await inspectParquet(bytesSource(readVector(UNIFORM[0].file)))
    assert.equal(info.magic, 'PARE')
    assert.equal(info.footer, 'encrypted')
    assert.equal(info.algorithm, 'AES_GCM_V1')
    assert.equal(info.aadFileUniqueLength, 8)
    assert.equal(info.aadPrefix, 'none')
    assert.deepEqual(info.footerKeyMetadata, { length: 2, keyId: 'kf' })
    const inspect = async (file: string) => inspectParquet(bytesSource(readVector(file)))
    assert.equal(
      (await inspect('encrypt_columns_and_footer_ctr.parquet.encrypted')).algorithm,
      'AES_GCM_CTR_V1',
    )
    assert.equal(
      (await inspect('encrypt_columns_and_footer_aad.parquet.encrypted')).aadPrefix,
      'stored',
    )
    assert.equal(
      (await inspect('encrypt_columns_and_footer_disable_aad_storage.parquet.encrypted')).aadPrefix,
      'supplied-by-reader',
    )
    const plaintextFooter = await inspect('encrypt_columns_plaintext_footer.parquet.encrypted')
    assert.equal(plaintextFooter.footer, 'signed-plaintext')
    assert.equal(plaintextFooter.numRows, 50)
    assert.deepEqual(
      (await inspect('external_key_material_java.parquet.encrypted')).footerKeyMetadata?.pkmt1,
      {
        keyReference: 'footerKey',
      },
    )
  })

  it('refuses a wrong key with ERR_PARQUET_FOOTER_AUTH', async (t) => {
    if (!haveVectors(t)) return
    for (const { file } of UNIFORM) {
      for (const key of [VECTOR_KEYS.kc1_128, utf8('01234567890123456789012345678902')]) {
        await assert.rejects(decryptVector(file, key), { code: 'ERR_PARQUET_FOOTER_AUTH' })
      }
    }
    await assert.rejects(decryptVector(UNIFORM[0].file, new Uint8Array(10)), {
      code: 'ERR_CRYPTO_KEY_LENGTH',
    })
  })

  it('decrypts every mode: column keys, CTR, AAD prefixes, bloom filters, plaintext footers', async (t) => {
    if (!haveVectors(t)) return
    const files = [
      'encrypt_columns_and_footer.parquet.encrypted',
      'encrypt_columns_and_footer_aad.parquet.encrypted',
      'encrypt_columns_and_footer_bloom_filter.parquet.encrypted',
      'encrypt_columns_and_footer_ctr.parquet.encrypted',
      'encrypt_columns_and_footer_disable_aad_storage.parquet.encrypted',
      'encrypt_columns_plaintext_footer.parquet.encrypted',
      'aes256/encrypt_columns_and_footer.parquet.encrypted',
      'aes256/encrypt_columns_and_footer_ctr.parquet.encrypted',
      'aes256/encrypt_columns_and_footer_disable_aad_storage.parquet.encrypted',
      'aes256/encrypt_columns_plaintext_footer.parquet.encrypted',
    ]
    const reference = await decryptVector(UNIFORM[0].file, VECTOR_KEYS.footer128)
    const referencePath = dir.file('reference.parquet', reference.bytes)
    const expected = await db.rows(`SELECT * FROM read_parquet(${sqlPath(referencePath)})`)
    for (const file of files) {
      const aes256 = file.startsWith('aes256/')
      const asked: string[] = []
      const sink = memorySink()
      const stats = await decryptParquet(bytesSource(readVector(file)), sink, {
        keyRetriever: (metadata, target) => {
          const id = metadata === undefined ? '' : fromUtf8(metadata)
          asked.push(`${target.kind === 'footer' ? 'footer' : target.path.join('.')}=${id}`)
          return vectorKey(id, aes256)
        },
        ...(file.includes('disable_aad_storage') ? { aadPrefix: utf8('tester') } : {}),
      })
      const bloom = file.includes('bloom_filter')
      assert.equal(stats.rows, bloom ? 2000 : 50, file)
      assert.deepEqual(stats.droppedColumns, [], file)
      assert.ok(asked.includes('footer=kf'), file)
      assert.ok(asked.includes('double_field=kc1') && asked.includes('float_field=kc2'), file)
      if (aes256 && !file.includes('disable_aad')) {
        assert.ok(asked.includes('int64_field.list.element=kc7'), `${file}: ${asked}`)
      }
      const path = dir.file(`${file.replace('/', '_')}.plain.parquet`, sink.bytes())
      if (!bloom) {
        const rows = await db.rows(`SELECT * FROM read_parquet(${sqlPath(path)})`)
        assert.ok(JSON.stringify(rows) === JSON.stringify(expected), `${file}: rows differ`)
        continue
      }
      // Its own table: row i = (i + 0.5, i + 0.25, i, 'name_i'), bloom filters on the two
      // encrypted columns. They were authenticated, decrypted and kept: DuckDB finds them.
      const facts = await db.rows(
        `SELECT count(*) AS n,
           count(*) FILTER (WHERE double_field <> int32_field + 0.5 OR float_field <> int32_field + 0.25
             OR name <> 'name_' || int32_field) AS bad
         FROM read_parquet(${sqlPath(path)})`,
      )
      assert.deepEqual(facts, [{ n: '2000', bad: '0' }])
      const filters = await db.rows(
        `SELECT path_in_schema AS c FROM parquet_metadata(${sqlPath(path)}) WHERE bloom_filter_offset IS NOT NULL ORDER BY 1`,
      )
      assert.deepEqual(
        filters.map((r) => r.c),
        ['double_field', 'float_field'],
      )
      const probe = async (value: number) =>
        (
          await db.rows(
            `SELECT bloom_filter_excludes AS x FROM parquet_bloom_probe(${sqlPath(path)}, 'double_field', ${value})`,
          )
        ).map((r) => r.x)
      assert.deepEqual(await probe(1.5), [false])
      assert.deepEqual(await probe(0.125), [true])
    }
  })

  it('leaves out the columns whose key the reader lacks, or refuses them', async (t) => {
    if (!haveVectors(t)) return
    const file = 'encrypt_columns_and_footer.parquet.encrypted'
    const onlyFooter = (metadata: Uint8Array | undefined) =>
      metadata !== undefined && fromUtf8(metadata) === 'kf' ? VECTOR_KEYS.footer128 : undefined
    await assert.rejects(
      decryptParquet(bytesSource(readVector(file)), memorySink(), { keyRetriever: onlyFooter }),
      { code: 'ERR_PARQUET_KEY_UNAVAILABLE' },
    )
    const sink = memorySink()
    const stats = await decryptParquet(bytesSource(readVector(file)), sink, {
      keyRetriever: onlyFooter,
      unreadableColumns: 'drop',
    })
    assert.deepEqual(stats.droppedColumns.sort(), ['double_field', 'float_field'])
    const path = dir.file('partial.parquet', sink.bytes())
    const described = await db.rows(`DESCRIBE SELECT * FROM read_parquet(${sqlPath(path)})`)
    assert.deepEqual(
      described.map((r) => r.column_name),
      COLUMNS.filter((c) => c !== 'double_field' && c !== 'float_field'),
    )
    assert.equal((await db.rows(`SELECT * FROM read_parquet(${sqlPath(path)})`)).length, 50)
  })

  it('honours AAD prefixes: stored, required, mismatched', async (t) => {
    if (!haveVectors(t)) return
    const run = (file: string, aadPrefix?: Uint8Array) =>
      decryptParquet(bytesSource(readVector(file)), memorySink(), {
        keyRetriever: () => VECTOR_KEYS.footer128,
        ...(aadPrefix === undefined ? {} : { aadPrefix }),
      })
    const hidden = 'encrypt_columns_and_footer_disable_aad_storage.parquet.encrypted'
    await assert.rejects(run(hidden), { code: 'ERR_PARQUET_AAD_PREFIX' })
    await assert.rejects(run(hidden, utf8('wrong')), { code: 'ERR_PARQUET_FOOTER_AUTH' })
    // With the right prefix the footer authenticates; the footer key is not the column keys.
    await assert.rejects(run(hidden, utf8('tester')), { code: 'ERR_PARQUET_MODULE_AUTH' })
    const stored = 'encrypt_columns_and_footer_aad.parquet.encrypted'
    await assert.rejects(run(stored, utf8('other')), { code: 'ERR_PARQUET_AAD_PREFIX' })
    await assert.rejects(run(UNIFORM[0].file, utf8('tester')), { code: 'ERR_PARQUET_AAD_PREFIX' })
  })

  it("unwraps the key tools' double wrapping of external_key_material_java", async (t) => {
    if (!haveVectors(t)) return
    const sidecar = JSON.parse(
      fromUtf8(readVector('_KEY_MATERIAL_FOR_external_key_material_java.parquet.encrypted.json')),
    ) as Record<string, string>
    const masters = {
      kf: VECTOR_KEYS.footer128,
      kc1: VECTOR_KEYS.kc1_128,
      kc2: VECTOR_KEYS.kc2_128,
    }
    const kms = createInMemoryKms(masters)
    // SOURCES.md, "Derived vector: key-tools double wrapping".
    const expected = {
      footerKey: ['kf', '2178d29e2442167516bbeec128553cfb', '5e63ada1593fab4abb6aecbc6a82dd1a'],
      columnKey0: ['kc1', '1107230e970185581ca844b399ceaa76', '6864726b09bbd978fae87df0ad4155d0'],
      columnKey1: ['kc2', '4015ede18820ff28a89e310bc36cf6a5', '4f1b17c621d61b1917a356d2cf1eafcc'],
    } as const
    for (const [entry, [master, kek, dek]] of Object.entries(expected)) {
      const bytes = utf8(sidecar[entry] as string)
      const material = parseKeyMaterial(bytes)
      assert.equal(material.kind, 'material')
      if (material.kind !== 'material') continue
      assert.equal(material.masterKeyId, master)
      assert.equal(material.doubleWrapping, true)
      assert.equal(material.isFooterKey, entry === 'footerKey')
      const unwrappedKek = localUnwrap(masters[master], material.wrappedKek as string, master)
      assert.equal(toHex(unwrappedKek), kek)
      const result = await unwrapKeyMaterial(bytes, kms)
      assert.equal(toHex(result.dek), dek)
      assert.equal(result.masterKeyId, master)
    }
    // The file points at the sidecar; through it and the master keys it decrypts.
    const file = 'external_key_material_java.parquet.encrypted'
    const sink = memorySink()
    const stats = await decryptParquetWithKms(bytesSource(readVector(file)), sink, {
      kms,
      keyMaterial: parseKeyMaterialSidecar(
        fromUtf8(readVector('_KEY_MATERIAL_FOR_external_key_material_java.parquet.encrypted.json')),
      ),
    })
    assert.deepEqual(stats.droppedColumns, [])
    const path = dir.file('external.parquet', sink.bytes())
    // 100 rows: integers 0..99 and strings 'a0'..'j99' (letter i % 10, then i).
    const facts = await db.rows(
      `SELECT count(*) AS n, sum(integers) AS total,
         count(*) FILTER (WHERE strings <> chr(97 + integers % 10) || integers) AS bad
       FROM read_parquet(${sqlPath(path)})`,
    )
    assert.deepEqual(facts, [{ n: '100', total: '4950', bad: '0' }])
    // Without the sidecar the references cannot be resolved.
    await assert.rejects(
      decryptParquetWithKms(bytesSource(readVector(file)), memorySink(), { kms }),
      { code: 'ERR_PARQUET_KEY_MATERIAL' },
    )
  })
})
