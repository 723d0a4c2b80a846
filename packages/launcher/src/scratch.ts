import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A private (0700) scratch directory: the TEE's scratch space, removed by `dispose()`. */
export type Scratch = { readonly dir: string; dispose(): Promise<void> }

/**
 * Create the scratch directory on a memory-backed file system (`/dev/shm`) when there is one, so
 * plaintext written there never reaches persistent storage; otherwise in the OS temp directory.
 */
export async function createScratch(root?: string): Promise<Scratch> {
  const base = root ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir())
  const dir = await mkdtemp(join(base, 'subrosa-scratch-'))
  let disposed = false
  return {
    dir,
    async dispose() {
      if (disposed) return
      disposed = true
      await rm(dir, { recursive: true, force: true })
    },
  }
}
