import { readdir, readFile, stat } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { type BundleFile, measureBundle } from '@subrosa/attest'
import { LauncherError } from './errors.ts'

const MAX_BUNDLE_BYTES = 256 << 20

/**
 * Read a workload bundle (a file, or every regular file under a directory) and measure it as the
 * sim TEE does. Symbolic links are refused, so the measured bytes are the bytes that run.
 *
 * @throws LauncherError `ERR_LAUNCHER_BUNDLE`.
 */
export async function measureBundlePath(
  path: string,
): Promise<{ measurement: Uint8Array; files: number; bytes: number }> {
  const files: BundleFile[] = []
  let bytes = 0
  const add = async (full: string, rel: string) => {
    const content = new Uint8Array(await readFile(full))
    bytes += content.length
    if (bytes > MAX_BUNDLE_BYTES)
      throw new LauncherError('ERR_LAUNCHER_BUNDLE', 'Workload bundle exceeds 256 MiB')
    files.push({ path: rel, bytes: content })
  }
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(path)
  } catch (cause) {
    throw new LauncherError('ERR_LAUNCHER_BUNDLE', `Cannot read workload bundle ${path}`, { cause })
  }
  if (info.isFile()) {
    await add(path, path.split(sep).pop() ?? 'bundle')
  } else {
    const walk = async (dir: string) => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const full = join(dir, entry.name)
        if (entry.isSymbolicLink())
          throw new LauncherError(
            'ERR_LAUNCHER_BUNDLE',
            `Workload bundle contains a symbolic link: ${relative(path, full)}`,
          )
        if (entry.isDirectory()) await walk(full)
        else if (entry.isFile()) await add(full, relative(path, full).split(sep).join('/'))
      }
    }
    await walk(path)
  }
  if (files.length === 0)
    throw new LauncherError('ERR_LAUNCHER_BUNDLE', `Workload bundle ${path} has no files`)
  return { measurement: measureBundle(files), files: files.length, bytes }
}
