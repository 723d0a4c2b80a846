// npm run bench [-- --rows N]: the demo query with DuckDB on plaintext Parquet vs on
// Subrosa-encrypted (PME) Parquet, measured side by side in one run (interleaved, medians),
// and PME write throughput vs raw single-core AES-256-GCM. Ends with one summary line.
import { createCipheriv, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DuckDBBlobValue, DuckDBInstance } from '@duckdb/node-api'
import { DEMO_QUERY, taxiDatasetSql } from '@subrosa/cli'
import { createInMemoryKms, encryptParquetWithKms, unwrapFooterKey } from '@subrosa/crypto'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import { median, seconds } from './timing.ts'

const { values } = parseArgs({
  strict: false,
  options: {
    rows: { type: 'string', default: '10000000' },
    runs: { type: 'string', default: '3' },
  },
})
const rows = Number(values.rows)
const runs = Number(values.runs)
const dir = await mkdtemp(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'subrosa-bench-'))
const log = (s: string) => process.stderr.write(`${s}\n`)

try {
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  const db = await instance.connect()
  const plain = join(dir, 'trips.parquet')
  const encrypted = join(dir, 'trips.pme.parquet')
  log(`generating ${rows.toLocaleString('en-US')} rows ...`)
  await db.run(`COPY (${taxiDatasetSql(rows)}) TO '${plain}' (FORMAT parquet, COMPRESSION zstd)`)
  const plainBytes = (await stat(plain)).size

  const kms = createInMemoryKms({ 'subrosa:bench/taxi': randomBytes(32) })
  const writeTimes: number[] = []
  for (let i = 0; i < runs; i++) {
    await rm(encrypted, { force: true })
    writeTimes.push(
      await seconds(async () => {
        const source = await openFileSource(plain)
        const sink = await createAtomicFileSink(encrypted)
        await encryptParquetWithKms(source, sink, {
          masterKeyId: 'subrosa:bench/taxi',
          kms,
          kmsInstanceId: 'bench',
          kmsInstanceUrl: 'memory:',
        })
        await sink.commit()
        await source.close()
      }),
    )
  }
  const writeMbS = plainBytes / 1e6 / median(writeTimes)

  const buffer = randomBytes(256 << 20)
  const aesTimes: number[] = []
  for (let i = 0; i < runs; i++) {
    aesTimes.push(
      await seconds(async () => {
        const key = randomBytes(32)
        for (let off = 0; off < buffer.length; off += 1 << 20) {
          const c = createCipheriv('aes-256-gcm', key, randomBytes(12))
          c.update(buffer.subarray(off, off + (1 << 20)))
          c.final()
          c.getAuthTag()
        }
      }),
    )
  }
  const aesMbS = buffer.length / 1e6 / median(aesTimes)

  const source = await openFileSource(encrypted)
  const { dek } = await unwrapFooterKey(source, kms)
  await source.close()
  const q = (path: string, keyed: boolean) =>
    `WITH trips AS (SELECT * FROM read_parquet('${path}'${keyed ? ', encryption_config = {footer_key_value: $1::BLOB}' : ''})) ${DEMO_QUERY}`
  const plainTimes: number[] = []
  const encTimes: number[] = []
  let plainResult = ''
  let encResult = ''
  for (let i = 0; i < runs + 1; i++) {
    const p = await seconds(async () => {
      plainResult = JSON.stringify((await db.runAndReadAll(q(plain, false))).getRowsJson())
    })
    const e = await seconds(async () => {
      encResult = JSON.stringify(
        (await db.runAndReadAll(q(encrypted, true), [new DuckDBBlobValue(dek)])).getRowsJson(),
      )
    })
    if (i > 0) {
      plainTimes.push(p)
      encTimes.push(e)
    }
  }
  if (plainResult !== encResult) throw new Error('encrypted and plaintext results differ')
  db.closeSync()
  instance.closeSync()

  const plainS = median(plainTimes)
  const encS = median(encTimes)
  const encBytes = (await stat(encrypted)).size
  const lines = [
    `rows                         ${rows.toLocaleString('en-US')}`,
    `plaintext parquet            ${(plainBytes / 1e6).toFixed(1)} MB    PME parquet ${(encBytes / 1e6).toFixed(1)} MB`,
    `demo query, DuckDB plaintext ${plainS.toFixed(3)} s  (median of ${runs}, after a warm-up)`,
    `demo query, DuckDB PME       ${encS.toFixed(3)} s  (same run, interleaved; results identical)`,
    `PME write (transcode)        ${writeMbS.toFixed(0)} MB/s of plaintext Parquet`,
    `raw AES-256-GCM, one core    ${aesMbS.toFixed(0)} MB/s (1 MiB chunks)`,
  ]
  process.stdout.write(`${lines.join('\n')}\n`)
  process.stdout.write(
    `bench engine rows=${rows} plain_s=${plainS.toFixed(3)} encrypted_s=${encS.toFixed(3)} ratio=${(encS / plainS).toFixed(2)} write_mb_s=${writeMbS.toFixed(0)} aes_mb_s=${aesMbS.toFixed(0)}\n`,
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}
