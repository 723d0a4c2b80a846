// `subrosa parquet encrypt|decrypt|inspect` in process, on a DuckDB-written file.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DuckDBInstance } from '@duckdb/node-api'
import { runInProcess } from '../in-process.ts'

const cli = runInProcess

const hex = (n = 32) => randomBytes(n).toString('hex')

describe('subrosa parquet encrypt / decrypt', () => {
  let dir: string
  let db: Awaited<ReturnType<DuckDBInstance['connect']>>
  let instance: DuckDBInstance
  const digest = async (file: string, columns = '*') =>
    (
      await db.runAndReadAll(
        `SELECT md5(string_agg(t::VARCHAR, '|' ORDER BY id)) AS d FROM (SELECT ${columns} FROM read_parquet('${join(dir, file)}')) t`,
      )
    ).getRowObjectsJson()[0]?.d
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-parquet-cli-'))
    instance = await DuckDBInstance.create(':memory:')
    db = await instance.connect()
    await db.run(
      `COPY (SELECT i AS id, 'person_' || i AS name, i * 3 AS salary FROM range(5000) t(i)) TO '${join(dir, 'plain.parquet')}' (FORMAT parquet)`,
    )
  })
  after(async () => {
    db.closeSync()
    instance.closeSync()
    await rm(dir, { recursive: true, force: true })
  })

  it('encrypts with raw footer and column keys; decrypts all, some, or refuses', async () => {
    const footer = hex()
    const name = hex(16)
    await writeFile(join(dir, 'name.key'), `${name}\n`)
    const enc = await cli(
      [
        'parquet',
        'encrypt',
        'plain.parquet',
        '-o',
        'raw.parquet',
        '--footer-key',
        footer,
        '--column-key',
        'name=@name.key',
        '--algorithm',
        'AES_GCM_CTR_V1',
        '--json',
      ],
      dir,
    )
    assert.equal(enc.status, 0, enc.stderr)
    assert.ok(!enc.stdout.includes(footer) && !enc.stdout.includes(name))
    const info = JSON.parse(
      (await cli(['parquet', 'inspect', 'raw.parquet', '--json'], dir)).stdout,
    )
    assert.equal(info.algorithm, 'AES_GCM_CTR_V1')
    assert.equal(info.footer, 'encrypted')
    assert.equal(info.columnEncryption, undefined, 'an encrypted footer hides the columns')
    const keyed = await cli(
      ['parquet', 'inspect', 'raw.parquet', '--footer-key', footer, '--json'],
      dir,
    )
    assert.ok(!keyed.stdout.includes(footer))
    assert.deepEqual(
      JSON.parse(keyed.stdout).columnEncryption.map((c: { path: string[]; encryption: string }) => [
        c.path.join('.'),
        c.encryption,
      ]),
      [
        ['id', 'plaintext'],
        ['name', 'column-key'],
        ['salary', 'plaintext'],
      ],
    )

    const refused = await cli(
      ['parquet', 'decrypt', 'raw.parquet', '-o', 'x.parquet', '--footer-key', footer, '--json'],
      dir,
    )
    assert.equal(refused.status, 1)
    assert.equal(JSON.parse(refused.stdout).error.code, 'ERR_PARQUET_KEY_UNAVAILABLE')
    assert.ok(!existsSync(join(dir, 'x.parquet')), 'no partial output')

    const partial = await cli(
      [
        'parquet',
        'decrypt',
        'raw.parquet',
        '-o',
        'partial.parquet',
        '--footer-key',
        footer,
        '--skip-unreadable-columns',
        '--json',
      ],
      dir,
    )
    assert.equal(partial.status, 0, partial.stderr)
    assert.deepEqual(JSON.parse(partial.stdout).droppedColumns, ['name'])
    assert.equal(
      await digest('partial.parquet', 'id, salary'),
      await digest('plain.parquet', 'id, salary'),
    )

    const full = await cli(
      [
        'parquet',
        'decrypt',
        'raw.parquet',
        '-o',
        'full.parquet',
        '--footer-key',
        footer,
        '--column-key',
        `name=${name}`,
      ],
      dir,
    )
    assert.equal(full.status, 0, full.stderr)
    assert.equal(await digest('full.parquet'), await digest('plain.parquet'))
  })

  it('encrypts with master keys and external key material; decrypts through the sidecar', async () => {
    const mk = hex()
    const pii = hex()
    const enc = await cli(
      [
        'parquet',
        'encrypt',
        'plain.parquet',
        '-o',
        'kms.parquet',
        '--kms-key',
        `mk=${mk}`,
        '--kms-key',
        `pii=${pii}`,
        '--footer-key',
        'mk',
        '--column-key',
        'name=pii',
        '--plaintext-footer',
        '--external-key-material',
        '--aad-prefix',
        'people/2026',
        '--json',
      ],
      dir,
    )
    assert.equal(enc.status, 0, enc.stderr)
    const sidecar = JSON.parse(enc.stdout).keyMaterial as string
    assert.ok(existsSync(sidecar) && sidecar.endsWith('_KEY_MATERIAL_FOR_kms.parquet.json'))
    const info = JSON.parse(
      (await cli(['parquet', 'inspect', 'kms.parquet', '--json'], dir)).stdout,
    )
    assert.equal(info.footer, 'signed-plaintext')
    assert.equal(info.aadPrefix, 'stored')
    assert.deepEqual(info.footerKeyMetadata.pkmt1, { keyReference: 'footerKey' })

    const back = await cli(
      [
        'parquet',
        'decrypt',
        'kms.parquet',
        '-o',
        'kms.plain.parquet',
        '--kms-key',
        `mk=${mk}`,
        '--kms-key',
        `pii=${pii}`,
      ],
      dir,
    )
    assert.equal(back.status, 0, back.stderr)
    assert.equal(await digest('kms.plain.parquet'), await digest('plain.parquet'))
    // Rotation: new master keys, the data file untouched, old keys no longer work.
    const before = readFileSync(join(dir, 'kms.parquet'))
    const mk2 = hex()
    const pii2 = hex()
    const rotated = await cli(
      [
        'parquet',
        'rotate-keys',
        'kms.parquet',
        '--kms-key',
        `mk=${mk}`,
        '--kms-key',
        `pii=${pii}`,
        '--new-kms-key',
        `mk=${mk2}`,
        '--new-kms-key',
        `pii=${pii2}`,
        '--json',
      ],
      dir,
    )
    assert.equal(rotated.status, 0, rotated.stderr)
    assert.deepEqual(JSON.parse(rotated.stdout).entries.sort(), ['columnKey0', 'footerKey'])
    assert.ok(readFileSync(join(dir, 'kms.parquet')).equals(before))
    const withNew = await cli(
      [
        'parquet',
        'decrypt',
        'kms.parquet',
        '-o',
        'kms.rotated.parquet',
        '--kms-key',
        `mk=${mk2}`,
        '--kms-key',
        `pii=${pii2}`,
      ],
      dir,
    )
    assert.equal(withNew.status, 0, withNew.stderr)
    assert.equal(await digest('kms.rotated.parquet'), await digest('plain.parquet'))
    const withOld = await cli(
      [
        'parquet',
        'decrypt',
        'kms.parquet',
        '-o',
        'old.parquet',
        '--kms-key',
        `mk=${mk}`,
        '--kms-key',
        `pii=${pii}`,
        '--json',
      ],
      dir,
    )
    assert.equal(JSON.parse(withOld.stdout).error.code, 'ERR_CRYPTO_AUTH')
    const inside = await cli(
      [
        'parquet',
        'rotate-keys',
        'raw.parquet',
        '--kms-key',
        `mk=${mk}`,
        '--new-kms-key',
        `mk=${mk2}`,
      ],
      dir,
    )
    assert.equal(inside.status, 2)
    const wrong = await cli(
      [
        'parquet',
        'decrypt',
        'kms.parquet',
        '-o',
        'w.parquet',
        '--kms-key',
        `mk=${hex()}`,
        '--kms-key',
        `pii=${pii}`,
        '--json',
      ],
      dir,
    )
    assert.equal(JSON.parse(wrong.stdout).error.code, 'ERR_CRYPTO_AUTH')
  })

  it('answers bad keys and options with usage errors, never echoing a key', async () => {
    const secret = 'zz'.repeat(16)
    for (const args of [
      ['--footer-key', secret],
      ['--footer-key', hex(), '--algorithm', 'AES_CBC'],
      ['--kms-key', `mk=${hex()}`, '--footer-key', 'other'],
      ['--footer-key', hex(), '--column-key', 'name'],
      ['--footer-key', hex(), '--supply-aad-prefix'],
    ]) {
      const r = await cli(
        ['parquet', 'encrypt', 'plain.parquet', '-o', 'bad.parquet', ...args],
        dir,
      )
      assert.equal(r.status, 2, args.join(' '))
      assert.ok(!r.stderr.includes(secret))
    }
    const noColumn = await cli(
      [
        'parquet',
        'encrypt',
        'plain.parquet',
        '-o',
        'bad.parquet',
        '--footer-key',
        hex(),
        '--column-key',
        `nope=${hex()}`,
        '--json',
      ],
      dir,
    )
    assert.equal(JSON.parse(noColumn.stdout).error.code, 'ERR_PARQUET_COLUMN')
  })
})
