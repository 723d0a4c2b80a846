// Child process of stream-memory.test.ts, so that the peak resident memory the kernel reports is
// this transcode's alone.
//   encrypt <bytes> <out>   a generated plaintext file of <bytes> -> PME file <out>
//   decrypt <in>            PME file <in> -> plaintext, counted and dropped
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs'
import { decryptParquet } from '../src/parquet/decrypt-parquet.ts'
import { encryptParquet } from '../src/parquet/encrypt-parquet.ts'
import { syntheticLargeSource } from './synthetic-parquet.ts'

const key = new Uint8Array(32).fill(3)
const [mode, arg, out] = process.argv.slice(2)
let written = 0
const count = (b: Uint8Array) => {
  written += b.length
}
let pages = 0
let size = 0
if (mode === 'encrypt') {
  const source = syntheticLargeSource(Number(arg))
  size = source.size
  const fd = openSync(out as string, 'w', 0o600)
  const write = (b: Uint8Array) => {
    for (let at = 0; at < b.length; ) at += writeSync(fd, b, at)
    count(b)
  }
  pages = (
    await encryptParquet(
      source,
      {
        write: async (b) => write(b),
        writev: async (chunks) => {
          for (const b of chunks) write(b)
        },
      },
      { footerKey: key },
    )
  ).pages
  closeSync(fd)
} else {
  const fd = openSync(arg as string, 'r')
  size = fstatSync(fd).size
  const source = {
    size,
    read: async (offset: number, length: number) => {
      const buffer = new Uint8Array(length)
      for (let at = 0; at < length; ) at += readSync(fd, buffer, at, length - at, offset + at)
      return buffer
    },
  }
  pages = (
    await decryptParquet(
      source,
      {
        write: async (b) => count(b),
        writev: async (chunks) => {
          for (const b of chunks) count(b)
        },
      },
      { keyRetriever: () => key },
    )
  ).pages
  closeSync(fd)
}
process.stdout.write(
  `${JSON.stringify({ size, written, pages, maxRssKiB: process.resourceUsage().maxRSS })}\n`,
)
