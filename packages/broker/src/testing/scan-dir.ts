// Test support: which files under a directory hold any of the given byte strings.
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** Paths (relative to `dir`) of the files that contain one of `needles`, once per hit. */
export async function scanDir(dir: string, needles: readonly Buffer[]): Promise<string[]> {
  const hits: string[] = []
  for (const entry of await readdir(dir, { recursive: true })) {
    const path = join(dir, entry)
    if (!(await stat(path)).isFile()) continue
    const bytes = await readFile(path)
    for (const n of needles) if (bytes.includes(n)) hits.push(entry)
  }
  return hits
}
