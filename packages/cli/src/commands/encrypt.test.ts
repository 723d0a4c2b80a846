// `subrosa encrypt` / `subrosa decrypt` in process with an in-memory KMS (--kms-key): the format
// each file gets, stream round trips, tampered stream files, atomic output, progress, JSON.
// The broker path (owner KMS) is exercised in cli.test.ts.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { fileURLToPath } from 'node:url'
import { DuckDBInstance } from '@duckdb/node-api'
import { bytesSource, readStreamHeader } from '@subrosa/crypto'
import { runInProcess } from '../in-process.ts'

const KEY = randomBytes(32).toString('hex')
const keyed = ['--kms-key', `acme/people=${KEY}`]
const CHILD = fileURLToPath(new URL('../../test/encrypt-memory.ts', import.meta.url))

describe('subrosa encrypt / decrypt', () => {
  let dir: string
  const file = (name: string) => join(dir, name)
  const read = (name: string) => readFileSync(file(name))
  const cli = (...args: string[]) => runInProcess(args, dir)
  const ok = async (...args: string[]) => {
    const r = await cli(...args, ...keyed, '--json')
    assert.equal(r.status, 0, r.stderr)
    return JSON.parse(r.stdout) as Record<string, unknown>
  }
  /** Decrypt must fail with `code`, leave no output and no temporary file. */
  const refused = async (input: string, code: string, key = keyed) => {
    const r = await cli('decrypt', input, 'refused.out', ...key, '--json')
    assert.equal(r.status, 1, r.stderr)
    assert.equal(JSON.parse(r.stdout).error.code, code)
    assert.match(r.stderr, new RegExp(`^error ${code}:`))
    assert.ok(!existsSync(file('refused.out')), 'no output file')
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.partial')),
      [],
      'no temporary file',
    )
  }
  const csv = Buffer.from(
    `name,age,job\n${Array.from({ length: 3000 }, (_, i) => `p${i},${18 + (i % 43)},Engineer`).join('\n')}\n`,
  )

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-encrypt-'))
    writeFileSync(file('people.csv'), csv)
    const instance = await DuckDBInstance.create(':memory:')
    const db = await instance.connect()
    await db.run(
      `COPY (SELECT i AS id, 'p' || i AS name FROM range(2000) t(i)) TO '${file('people.parquet')}' (FORMAT parquet)`,
    )
    db.closeSync()
    instance.closeSync()
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('round-trips a CSV byte for byte as a stream file, chunk by chunk', async () => {
    const enc = await ok(
      'encrypt',
      'people.csv',
      'people.csv.srsa',
      '--key',
      'acme/people',
      '--chunk-size',
      '4KiB',
    )
    const chunks = Math.floor(csv.length / 4096) + 1
    assert.deepEqual(enc, {
      format: 'stream',
      input: 'people.csv',
      output: 'people.csv.srsa',
      keyId: 'subrosa:acme/people',
      bytes: csv.length,
      bytesIn: csv.length,
      bytesOut: read('people.csv.srsa').length,
      chunks,
      chunkSize: 4096,
    })
    const sealed = read('people.csv.srsa')
    assert.equal(sealed.subarray(0, 4).toString(), 'SRSA')
    assert.ok(!sealed.includes('Engineer'), 'no plaintext in the file')
    const { header } = await readStreamHeader(bytesSource(sealed))
    assert.equal(header.keyId, 'subrosa:acme/people')
    const dec = await ok('decrypt', 'people.csv.srsa', 'people.back.csv')
    assert.deepEqual(read('people.back.csv'), csv)
    assert.deepEqual(dec, {
      format: 'stream',
      input: 'people.csv.srsa',
      output: 'people.back.csv',
      bytes: csv.length,
      keyId: 'subrosa:acme/people',
      bytesIn: sealed.length,
      bytesOut: csv.length,
      chunks,
      chunkSize: 4096,
    })
    for (const json of [enc, dec]) assert.ok(!JSON.stringify(json).includes(KEY))
  })

  it('round-trips JSON lines and an empty file; the master key id may be given in full', async () => {
    const lines = Buffer.from(
      Array.from({ length: 500 }, (_, i) => JSON.stringify({ i, s: `é${i}` })).join('\n'),
    )
    writeFileSync(file('rows.jsonl'), lines)
    writeFileSync(file('empty.txt'), '')
    const full = ['--kms-key', `subrosa:acme/people=${KEY}`]
    for (const [name, bytes] of [
      ['rows.jsonl', lines],
      ['empty.txt', Buffer.alloc(0)],
    ] as const) {
      const r = await cli('encrypt', name, `${name}.srsa`, '--key', 'acme/people', ...full)
      assert.equal(r.status, 0, r.stderr)
      assert.match(r.stdout, /\(stream, .* in 1 chunk of 1\.0 MiB\) under subrosa:acme\/people/)
      assert.equal((await ok('decrypt', `${name}.srsa`, `${name}.back`)).format, 'stream')
      assert.deepEqual(read(`${name}.back`), bytes)
    }
  })

  it('encrypts Parquet with PME unless --format stream, and decrypts each by its magic', async () => {
    const pme = await ok('encrypt', 'people.parquet', 'people.pme.parquet', '--key', 'acme/people')
    assert.equal(pme.format, 'parquet')
    assert.equal(pme.masterKeyId, 'subrosa:acme/people')
    assert.equal(read('people.pme.parquet').subarray(-4).toString(), 'PARE')
    // The name says nothing: the magic decides.
    await ok('encrypt', 'people.parquet', 'people.pme', '--key', 'acme/people')
    assert.equal(read('people.pme').subarray(-4).toString(), 'PARE')
    const again = await cli('encrypt', 'people.pme', 'x.out', '--key', 'acme/people', ...keyed)
    assert.match(again.stderr, /ERR_PARQUET_ALREADY_ENCRYPTED/)
    const dec = await ok('decrypt', 'people.pme', 'people.plain.parquet')
    assert.equal(dec.format, 'parquet')
    assert.equal(dec.keyId, 'subrosa:acme/people')
    assert.equal(read('people.plain.parquet').subarray(-4).toString(), 'PAR1')
    const stream = await ok(
      'encrypt',
      'people.parquet',
      'people.parquet.srsa',
      '--key',
      'acme/people',
      '--format',
      'stream',
    )
    assert.equal(stream.format, 'stream')
    assert.equal((await ok('decrypt', 'people.parquet.srsa', 'people.rt.parquet')).format, 'stream')
    assert.deepEqual(read('people.rt.parquet'), read('people.parquet'))
    // A stream file named .parquet is still read as a stream.
    writeFileSync(file('named.parquet'), read('people.csv.srsa'))
    assert.equal((await ok('decrypt', 'named.parquet', 'named.csv')).format, 'stream')
    // --format parquet on a CSV: the Parquet reader refuses it.
    const forced = await cli(
      'encrypt',
      'people.csv',
      'forced.out',
      '--key',
      'acme/people',
      '--format',
      'parquet',
      ...keyed,
      '--json',
    )
    assert.equal(forced.status, 1)
    assert.match(JSON.parse(forced.stdout).error.code, /^ERR_PARQUET_/)
    assert.ok(!existsSync(file('forced.out')))
  })

  it('refuses what it cannot mean, before touching the output', async () => {
    const usage = async (...args: string[]) => {
      const r = await cli(...args, ...keyed)
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /ERR_CLI_USAGE/)
      assert.ok(!existsSync(file('x.out')))
    }
    await usage('encrypt', 'people.csv.srsa', 'x.out', '--key', 'acme/people')
    await usage('encrypt', 'people.csv', 'x.out', '--key', 'acme/people', '--column-key', 'a=b/c')
    await usage(
      'encrypt',
      'people.parquet',
      'x.out',
      '--key',
      'acme/people',
      '--chunk-size',
      '4KiB',
    )
    for (const size of ['1000', '2KiB', '32MiB', 'big'])
      await usage('encrypt', 'people.csv', 'x.out', '--key', 'acme/people', '--chunk-size', size)
    await usage('encrypt', 'people.csv', 'x.out', '--key', 'acme/people', '--format', 'zip')
    await usage('encrypt', 'people.csv', 'x.out', '--key', 'people')
    await usage('decrypt', 'people.csv.srsa')
    // A file that is neither Parquet nor a stream file.
    await refused('people.csv', 'ERR_STREAM_MALFORMED')
  })

  it('refuses a truncated, reordered or foreign-chunk file, each with its own code', async () => {
    const enc = ['--key', 'acme/people', '--chunk-size', '4KiB']
    await ok('encrypt', 'people.csv', 'a.srsa', ...enc)
    writeFileSync(
      file('other.csv'),
      csv.map((b) => (b === 0x30 ? 0x31 : b)),
    )
    await ok('encrypt', 'other.csv', 'b.srsa', ...enc)
    const a = read('a.srsa')
    const b = read('b.srsa')
    const { length: start } = await readStreamHeader(bytesSource(a))
    const physical = 4096 + 16
    const chunk = (f: Buffer, i: number) =>
      f.subarray(start + i * physical, start + (i + 1) * physical)
    const rest = (f: Buffer, from: number) => f.subarray(start + from * physical)
    const head = a.subarray(0, start)
    writeFileSync(file('cut.srsa'), a.subarray(0, start + 3 * physical))
    writeFileSync(
      file('swapped.srsa'),
      Buffer.concat([head, chunk(a, 0), chunk(a, 2), chunk(a, 1), rest(a, 3)]),
    )
    writeFileSync(file('foreign.srsa'), Buffer.concat([head, chunk(a, 0), chunk(b, 1), rest(a, 2)]))
    const flipped = Buffer.from(a)
    flipped[start + physical + 7] = (flipped[start + physical + 7] ?? 0) ^ 1
    writeFileSync(file('flipped.srsa'), flipped)
    await refused('cut.srsa', 'ERR_STREAM_TRUNCATED')
    await refused('swapped.srsa', 'ERR_STREAM_REORDERED')
    await refused('foreign.srsa', 'ERR_STREAM_CHUNK_AUTH')
    await refused('flipped.srsa', 'ERR_STREAM_CHUNK_AUTH')
    await refused('a.srsa', 'ERR_STREAM_HEADER_AUTH', [
      '--kms-key',
      `acme/people=${randomBytes(32).toString('hex')}`,
    ])
    // The untampered files still decrypt.
    await ok('decrypt', 'b.srsa', 'b.csv')
    assert.deepEqual(read('b.csv'), read('other.csv'))
  })

  it('leaves an existing output untouched when decryption fails', async () => {
    writeFileSync(file('keep.csv'), 'precious\n')
    const r = await cli('decrypt', 'cut.srsa', 'keep.csv', ...keyed)
    assert.equal(r.status, 1)
    assert.match(r.stderr, /ERR_STREAM_TRUNCATED/)
    assert.equal(read('keep.csv').toString(), 'precious\n')
  })

  it('shows progress on stderr with --progress, never with --json', async () => {
    const shown = await cli('decrypt', 'a.srsa', 'p.csv', '--progress', ...keyed)
    assert.equal(shown.status, 0, shown.stderr)
    const size = `${(csv.length / 1024).toFixed(1)} KiB`
    // A line when it starts and one at the end (not a terminal: no redrawing), rate included.
    const lines = shown.stderr.split('\n')
    assert.equal(lines.pop(), '')
    assert.match(lines[0] ?? '', /^ {2}decrypt \d+% /)
    assert.ok(lines.at(-1)?.startsWith(`  decrypt 100% ${size}/${size}`), shown.stderr)
    const quiet = await cli('decrypt', 'a.srsa', 'q.csv', '--progress', '--json', ...keyed)
    assert.equal(quiet.status, 0, quiet.stderr)
    assert.equal(quiet.stderr, '')
    const piped = await cli('encrypt', 'people.csv', 'r.srsa', '--key', 'acme/people', ...keyed)
    assert.equal(piped.stderr, '', 'stderr is not a terminal and --progress was not given')
  })

  it('streams a 96 MiB file both ways with a peak RSS growth under 64 MiB', {
    timeout: 300_000,
  }, () => {
    const size = 96 * 1024 * 1024
    const run = spawnSync(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', CHILD, dir, String(size)],
      { encoding: 'utf8' },
    )
    assert.equal(run.status, 0, run.stderr)
    const peak = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>
    const grew = (kib: number) => (kib - (peak.baseKiB ?? 0)) * 1024
    // Holding the file (96 MiB), let alone file and ciphertext, could not fit.
    assert.ok(grew(peak.encryptKiB ?? Infinity) < 64 << 20, `encrypt: ${JSON.stringify(peak)}`)
    assert.ok(grew(peak.decryptKiB ?? Infinity) < 64 << 20, `decrypt: ${JSON.stringify(peak)}`)
    assert.ok(readFileSync(join(dir, 'big.bin')).equals(readFileSync(join(dir, 'big.out'))))
  })
})
