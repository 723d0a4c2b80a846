// npm run bench [-- --pme-rows N --runs N]: Parquet Modular Encryption throughput against raw
// single-core AES-256-GCM over the same bytes, measured side by side (runs interleaved; the
// summary takes each side's best run, the usual throughput statistic, and stderr the medians).
// The summary line measures the transcoder itself (file in memory, output counted and dropped),
// so storage speed does not hide or inflate its overhead; the file-to-file figure on tmpfs is
// printed beside it. Ends with one summary line.
import { createCipheriv, randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { DuckDBInstance } from '@duckdb/node-api'
import { taxiDatasetSql } from '@subrosa/cli'
import { bytesSource, decryptParquet, encryptParquet } from '@subrosa/crypto'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import { median, seconds } from './timing.ts'

const { values } = parseArgs({
  strict: false,
  options: {
    'pme-rows': { type: 'string', default: '5000000' },
    runs: { type: 'string', default: '3' },
  },
})
const rows = Number(values['pme-rows'])
const runs = Number(values.runs)
const dir = await mkdtemp(
  join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'subrosa-bench-pme-'),
)

try {
  const plain = join(dir, 'trips.parquet')
  const encrypted = join(dir, 'trips.pme.parquet')
  const decrypted = join(dir, 'trips.plain-again.parquet')
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' })
  const db = await instance.connect()
  process.stderr.write(`bench pme: generating ${rows.toLocaleString('en-US')} rows ...\n`)
  await db.run(`COPY (${taxiDatasetSql(rows)}) TO '${plain}' (FORMAT parquet, COMPRESSION zstd)`)
  db.closeSync()
  instance.closeSync()
  const bytes = (await stat(plain)).size
  const key = randomBytes(32)
  const transcode = async (
    input: string,
    output: string,
    work: typeof encryptParquet | typeof decryptParquet,
  ) => {
    const source = await openFileSource(input)
    const sink = await createAtomicFileSink(output)
    if (work === encryptParquet) await encryptParquet(source, sink, { footerKey: key })
    else await decryptParquet(source, sink, { keyRetriever: () => key })
    await sink.commit()
    await source.close()
  }
  await transcode(plain, encrypted, encryptParquet)
  const plainBytes = new Uint8Array(await readFile(plain))
  const counting = () => {
    let n = 0
    return {
      write: async (b: Uint8Array) => {
        n += b.length
      },
      writev: async (chunks: readonly Uint8Array[]) => {
        for (const b of chunks) n += b.length
      },
      get size() {
        return n
      },
    }
  }
  const encryptedBytes = new Uint8Array(await readFile(encrypted))
  const inMemory = {
    encrypt: () => encryptParquet(bytesSource(plainBytes), counting(), { footerKey: key }),
    decrypt: () =>
      decryptParquet(bytesSource(encryptedBytes), counting(), { keyRetriever: () => key }),
  }
  const buffer = randomBytes(bytes)
  // Raw AES-256-GCM over the same number of bytes, in the chunk size that is fastest here (the
  // ciphertext allocations of large chunks cost more than the cipher on some machines).
  const aesIn = async (chunk: number) => {
    const k = randomBytes(32)
    for (let off = 0; off < buffer.length; off += chunk) {
      const c = createCipheriv('aes-256-gcm', k, randomBytes(12))
      c.update(buffer.subarray(off, off + chunk))
      c.final()
      c.getAuthTag()
    }
  }
  const enc: number[] = []
  const dec: number[] = []
  const raw: number[] = []
  const encFile: number[] = []
  const decFile: number[] = []
  // Warm-up until the JIT has settled: the first pass runs mostly unoptimized code.
  for (let i = 0; i < 3; i++) {
    await inMemory.encrypt()
    await inMemory.decrypt()
    await aesIn(64 << 10)
  }
  for (let i = 0; i < Math.max(runs, 7); i++) {
    enc.push(await seconds(inMemory.encrypt))
    raw.push(
      Math.min(
        await seconds(() => aesIn(16 << 10)),
        await seconds(() => aesIn(64 << 10)),
        await seconds(() => aesIn(1 << 20)),
      ),
    )
    dec.push(await seconds(inMemory.decrypt))
  }
  for (let i = 0; i < runs; i++) {
    encFile.push(await seconds(() => transcode(plain, encrypted, encryptParquet)))
    decFile.push(await seconds(() => transcode(encrypted, decrypted, decryptParquet)))
  }
  const mbS = (s: number) => bytes / 1e6 / s
  const best = (xs: readonly number[]) => Math.min(...xs)
  const [e, d, a] = [mbS(best(enc)), mbS(best(dec)), mbS(best(raw))]
  const [em, dm, am] = [mbS(median(enc)), mbS(median(dec)), mbS(median(raw))]
  const [ef, df] = [mbS(median(encFile)), mbS(median(decFile))]
  process.stderr.write(
    `PME encrypt ${e.toFixed(0)} MB/s, decrypt ${d.toFixed(0)} MB/s, raw AES-256-GCM ${a.toFixed(0)} MB/s (best of 16 KiB, 64 KiB and 1 MiB chunks; ${(bytes / 1e6).toFixed(0)} MB of Parquet in memory, one core, best of ${enc.length} runs: ${((100 * e) / a).toFixed(0)}% and ${((100 * d) / a).toFixed(0)}% of raw)\n` +
      `medians: encrypt ${em.toFixed(0)} MB/s, decrypt ${dm.toFixed(0)} MB/s, raw ${am.toFixed(0)} MB/s (${((100 * em) / am).toFixed(0)}% and ${((100 * dm) / am).toFixed(0)}%)\n` +
      `file to file on tmpfs: encrypt ${ef.toFixed(0)} MB/s, decrypt ${df.toFixed(0)} MB/s\n`,
  )
  console.log(
    `bench pme encrypt_mb_s=${e.toFixed(0)} decrypt_mb_s=${d.toFixed(0)} aes_mb_s=${a.toFixed(0)}`,
  )
} finally {
  await rm(dir, { recursive: true, force: true })
}
