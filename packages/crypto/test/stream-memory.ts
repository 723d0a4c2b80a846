// Child process of stream-memory.test.ts: encrypt (then decrypt through a pipe) a synthetic file
// of the given size, output counted and dropped, and report the peak resident memory.
import { encryptParquet } from '../src/parquet/encrypt-parquet.ts'
import { syntheticLargeSource } from './synthetic-parquet.ts'

const bytes = Number(process.argv[2])
const source = syntheticLargeSource(bytes)
let written = 0
const sink = {
  write: async (b: Uint8Array) => {
    written += b.length
  },
  writev: async (chunks: readonly Uint8Array[]) => {
    for (const b of chunks) written += b.length
  },
}
const stats = await encryptParquet(source, sink, { footerKey: new Uint8Array(32).fill(3) })
process.stdout.write(
  `${JSON.stringify({ size: source.size, written, pages: stats.pages, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
)
