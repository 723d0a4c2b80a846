// Interop with Arrow C++ through pyarrow: pyarrow reads what Subrosa writes and Subrosa reads
// what pyarrow writes, both with key-tools double wrapping through a KmsClient. The KMS is a
// loopback HTTP bridge served by createInMemoryKms, so the crypto under test stays in TypeScript.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import { fromBase64, toBase64 } from '@subrosa/core'
import { fileBytes, openTestDuckDb, sqlPath, type TestDuckDb, tempDir } from '../../test/helpers.ts'
import { syntheticParquet } from '../../test/synthetic-parquet.ts'
import { createInMemoryKms, type KmsClient } from '../kms.ts'
import { bytesSource, memorySink } from './byte-io.ts'
import { decryptParquet } from './decrypt-parquet.ts'
import { encryptParquet } from './encrypt-parquet.ts'
import { inspectParquet } from './inspect.ts'
import { decryptParquetWithKms, encryptParquetWithKms } from './kms-parquet.ts'

const SCRIPT = fileURLToPath(new URL('../../test/pyarrow_interop.py', import.meta.url))
const PYARROW = spawnSync('python3', ['-c', 'import pyarrow'], { stdio: 'ignore' }).status === 0

function havePyarrow(t: TestContext): boolean {
  if (PYARROW) return true
  if (process.env.CI === 'true') throw new Error('pyarrow is missing; CI must install it')
  t.skip('pyarrow absent (python3 -c "import pyarrow" failed)')
  return false
}

/** POST /wrap {masterKeyId, key} -> {wrapped}; POST /unwrap {masterKeyId, wrapped} -> {key}. */
function kmsBridge(kms: KmsClient): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' })
        res.end(JSON.stringify(body))
      }
      const work = async () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, string>
        const id = String(body.masterKeyId)
        if (req.url === '/wrap') {
          return {
            wrapped: await kms.wrapKey(fromBase64(String(body.key)) ?? new Uint8Array(), id),
          }
        }
        if (req.url === '/unwrap')
          return { key: toBase64(await kms.unwrapKey(String(body.wrapped), id)) }
        throw new Error(`no route ${req.url}`)
      }
      work().then(
        (body) => reply(200, body),
        (error: unknown) => reply(400, { code: (error as { code?: string }).code ?? 'ERROR' }),
      )
    })
  })
}

function python(
  args: string[],
): Promise<{ kmsConfigs: { kms_instance_id: string; kms_instance_url: string }[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('python3', [SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '{}'))
      else reject(new Error(`pyarrow_interop.py ${args[0]} exited ${code}: ${err.slice(-2000)}`))
    })
  })
}

describe('pyarrow interop (PME with key-tools double wrapping)', () => {
  const dir = tempDir()
  const kms = createInMemoryKms({
    'subrosa:demo/taxi': new Uint8Array(randomBytes(32)),
    'subrosa:demo/pyarrow': new Uint8Array(randomBytes(16)),
    'subrosa:demo/pii': new Uint8Array(randomBytes(32)),
    // pyarrow serializes column keys as "id:col,col;...", so its ids cannot hold a colon.
    'demo-pii': new Uint8Array(randomBytes(32)),
  })
  const server = kmsBridge(kms)
  let url = ''
  let db: TestDuckDb
  const digest = async (path: string) =>
    db.rows(
      `SELECT count(*) AS n, md5(string_agg(t::VARCHAR, '|' ORDER BY id)) AS digest FROM read_parquet(${sqlPath(path)}) t`,
    )

  before(async () => {
    db = await openTestDuckDb()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(async () => {
    db.close()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    dir.cleanup()
  })

  it('pyarrow reads a file Subrosa encrypted with encryptParquetWithKms', async (t) => {
    if (!havePyarrow(t)) return
    const plain = dir.file('taxi.parquet')
    await db.run(
      `COPY (SELECT i::BIGINT AS id, 'zone_' || (i % 17) AS zone,
               CASE WHEN i % 6 = 0 THEN NULL ELSE i / 8 END::DOUBLE AS fare,
               TIMESTAMP '2024-03-01' + to_seconds(i * 11) AS pickup,
               CASE WHEN i % 4 = 0 THEN NULL ELSE [i, i * 2] END AS legs
             FROM range(30000) t(i)) TO ${sqlPath(plain)} (FORMAT parquet, ROW_GROUP_SIZE 8192)`,
    )
    const sink = memorySink()
    await encryptParquetWithKms(bytesSource(fileBytes(plain)), sink, {
      masterKeyId: 'subrosa:demo/taxi',
      kms,
      kmsInstanceId: 'subrosa',
      kmsInstanceUrl: url,
    })
    const encrypted = dir.file('taxi.encrypted.parquet', sink.bytes())
    const out = dir.file('taxi.by-pyarrow.parquet')
    const report = await python(['read', encrypted, out])
    // pyarrow took the KMS instance id and URL from our footer key material.
    assert.deepEqual(report.kmsConfigs, [{ kms_instance_id: 'subrosa', kms_instance_url: url }])
    const expected = await digest(plain)
    assert.equal(expected[0]?.n, '30000')
    assert.deepEqual(await digest(out), expected)

    // Several data pages per chunk (DuckDB writes one): Arrow checks our page ordinals.
    const values = [
      [
        [1, 2, 3],
        [4, 5],
        [6, 7, 8, 9],
      ],
      [[10], [11, 12]],
    ]
    const multi = memorySink()
    await encryptParquetWithKms(bytesSource(syntheticParquet(values)), multi, {
      masterKeyId: 'subrosa:demo/taxi',
      kms,
      kmsInstanceId: 'subrosa',
      kmsInstanceUrl: url,
    })
    const multiOut = dir.file('multi.by-pyarrow.parquet')
    await python(['read', dir.file('multi.encrypted.parquet', multi.bytes()), multiOut])
    const rows = await db.rows(
      `SELECT list(x ORDER BY x) AS xs FROM read_parquet(${sqlPath(multiOut)})`,
    )
    assert.deepEqual(rows, [{ xs: values.flat(2) }])
  })

  it('Subrosa decrypts a uniform file pyarrow wrote with decryptParquetWithKms', async (t) => {
    if (!havePyarrow(t)) return
    const encrypted = dir.file('pyarrow.encrypted.parquet')
    const twin = dir.file('pyarrow.plain.parquet')
    const report = await python(['write', url, encrypted, twin])
    assert.equal(report.kmsConfigs[0]?.kms_instance_id, 'pyarrow-test')
    const bytes = fileBytes(encrypted)
    const info = await inspectParquet(bytesSource(bytes))
    assert.equal(info.algorithm, 'AES_GCM_V1')
    assert.equal(info.aadFileUniqueLength, 8)
    assert.deepEqual(info.footerKeyMetadata?.pkmt1, {
      masterKeyId: 'subrosa:demo/pyarrow',
      kmsInstanceId: 'pyarrow-test',
      kmsInstanceUrl: url,
      doubleWrapping: true,
      internalStorage: true,
    })
    const sink = memorySink()
    const stats = await decryptParquetWithKms(bytesSource(bytes), sink, { kms })
    assert.equal(stats.rows, 20000)
    assert.equal(stats.rowGroups, 4)
    assert.equal(stats.pages > stats.rowGroups * stats.columns, true, 'several pages per chunk')
    const out = dir.file('pyarrow.decrypted.parquet', sink.bytes())
    const expected = await digest(twin)
    assert.equal(expected[0]?.n, '20000')
    assert.deepEqual(await digest(out), expected)
    // The wrong master key under the same id: the KMS unwrap fails, typed.
    await assert.rejects(
      decryptParquetWithKms(bytesSource(bytes), memorySink(), {
        kms: createInMemoryKms({ 'subrosa:demo/pyarrow': new Uint8Array(16) }),
      }),
      { code: 'ERR_CRYPTO_AUTH' },
    )
  })

  it('Subrosa decrypts every mode pyarrow writes through CryptoFactory', async (t) => {
    if (!havePyarrow(t)) return
    const modes = {
      columns: { algorithm: 'AES_GCM_V1', footer: 'encrypted' },
      ctr: { algorithm: 'AES_GCM_CTR_V1', footer: 'encrypted' },
      plaintext_footer: { algorithm: 'AES_GCM_V1', footer: 'signed-plaintext' },
      single_wrapping: { algorithm: 'AES_GCM_V1', footer: 'encrypted' },
    } as const
    for (const [mode, want] of Object.entries(modes)) {
      const encrypted = dir.file(`pyarrow-${mode}.parquet`)
      const twin = dir.file(`pyarrow-${mode}.plain.parquet`)
      await python(['write', url, encrypted, twin, mode])
      const bytes = fileBytes(encrypted)
      const info = await inspectParquet(bytesSource(bytes))
      assert.equal(info.algorithm, want.algorithm, mode)
      assert.equal(info.footer, want.footer, mode)
      const sink = memorySink()
      await decryptParquetWithKms(bytesSource(bytes), sink, { kms })
      const out = dir.file(`pyarrow-${mode}.decrypted.parquet`, sink.bytes())
      assert.deepEqual(await digest(out), await digest(twin), mode)
    }
  })

  it('pyarrow reads every mode Subrosa writes through its key tools', async (t) => {
    if (!havePyarrow(t)) return
    const plain = dir.file('modes.parquet')
    await db.run(
      `COPY (SELECT i::BIGINT AS id, 'zone_' || (i % 17) AS zone, i * 0.5 AS fare,
               CASE WHEN i % 4 = 0 THEN NULL ELSE [i, i * 2] END AS legs
             FROM range(20000) t(i)) TO ${sqlPath(plain)} (FORMAT parquet, ROW_GROUP_SIZE 8192)`,
    )
    const expected = await digest(plain)
    const modes: Record<string, Partial<Parameters<typeof encryptParquetWithKms>[2]>> = {
      columns: { columnMasterKeys: { 'subrosa:demo/pii': ['zone', 'legs.list.element'] } },
      ctr: { columnMasterKeys: { 'subrosa:demo/pii': ['fare'] }, algorithm: 'AES_GCM_CTR_V1' },
      plaintext_footer: {
        columnMasterKeys: { 'subrosa:demo/pii': ['fare'] },
        plaintextFooter: true,
      },
      single_wrapping: { doubleWrapping: false },
      complete_columns: {
        columnMasterKeys: { 'subrosa:demo/pii': ['zone'] },
        otherColumns: 'footer-key',
        dekBytes: 16,
      },
    }
    for (const [mode, extra] of Object.entries(modes)) {
      const sink = memorySink()
      await encryptParquetWithKms(bytesSource(fileBytes(plain)), sink, {
        masterKeyId: 'subrosa:demo/taxi',
        kms,
        kmsInstanceId: 'subrosa',
        kmsInstanceUrl: url,
        ...extra,
      })
      const out = dir.file(`subrosa-${mode}.by-pyarrow.parquet`)
      await python(['read', dir.file(`subrosa-${mode}.parquet`, sink.bytes()), out])
      assert.deepEqual(await digest(out), expected, mode)
    }
  })

  it('interoperates with direct keys: CTR, plaintext footer, AAD prefix stored and supplied', async (t) => {
    if (!havePyarrow(t)) return
    const key = new Uint8Array(randomBytes(32))
    const hex = Buffer.from(key).toString('hex')
    const prefix = new TextEncoder().encode('table=trips/part=7')
    for (const mode of ['gcm', 'ctr', 'plaintext_footer', 'aad_stored', 'aad_supplied']) {
      // pyarrow writes, Subrosa reads.
      const encrypted = dir.file(`direct-${mode}.parquet`)
      const twin = dir.file(`direct-${mode}.plain.parquet`)
      await python(['write-direct', hex, mode, encrypted, twin])
      const sink = memorySink()
      await decryptParquet(bytesSource(fileBytes(encrypted)), sink, {
        keyRetriever: () => key,
        ...(mode === 'aad_supplied' ? { aadPrefix: prefix } : {}),
      })
      const expected = await digest(twin)
      assert.deepEqual(
        await digest(dir.file(`direct-${mode}.out.parquet`, sink.bytes())),
        expected,
        mode,
      )
      if (mode === 'aad_supplied') {
        await assert.rejects(
          decryptParquet(bytesSource(fileBytes(encrypted)), memorySink(), {
            keyRetriever: () => key,
          }),
          { code: 'ERR_PARQUET_AAD_PREFIX' },
        )
      }
      // Subrosa writes the same mode, pyarrow reads.
      const ours = memorySink()
      await encryptParquet(bytesSource(fileBytes(twin)), ours, {
        footerKey: key,
        ...(mode === 'ctr' ? { algorithm: 'AES_GCM_CTR_V1' as const } : {}),
        ...(mode === 'plaintext_footer' ? { plaintextFooter: true } : {}),
        ...(mode.startsWith('aad')
          ? { aadPrefix: prefix, storeAadPrefix: mode === 'aad_stored' }
          : {}),
      })
      const back = dir.file(`direct-${mode}.by-pyarrow.parquet`)
      await python([
        'read-direct',
        hex,
        mode === 'aad_supplied' ? 'table=trips/part=7' : '-',
        dir.file(`direct-${mode}.subrosa.parquet`, ours.bytes()),
        back,
      ])
      assert.deepEqual(await digest(back), expected, `pyarrow reading ours: ${mode}`)
    }
  })
})
