// Print the production bundle's size (raw and gzip) after `vite build`.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'

const dist = new URL('../dist/', import.meta.url).pathname

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`
let raw = 0
let gz = 0
for (const file of files(dist).sort()) {
  const bytes = readFileSync(file)
  const zipped = gzipSync(bytes, { level: 9 }).length
  raw += bytes.length
  gz += zipped
  process.stdout.write(
    `  ${relative(dist, file).padEnd(34)} ${kb(bytes.length).padStart(10)}  gzip ${kb(zipped)}\n`,
  )
}
process.stdout.write(
  `Portal bundle: ${kb(raw)} (gzip ${kb(gz)}) in ${relative(process.cwd(), dist) || '.'}\n`,
)
