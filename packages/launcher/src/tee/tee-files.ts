// The few file operations evidence collection needs, behind a seam so that a test can stand in
// for the kernel (configfs-tsm) or Gramine on an ordinary directory tree. The default is node:fs.
import { access, mkdir, open, rmdir, writeFile } from 'node:fs/promises'

/** File operations used by the configfs-tsm and Gramine providers, in the order they need them. */
export type TeeFiles = {
  /** Create one directory (not recursive: the parent must exist). */
  mkdir(path: string): Promise<void>
  /** Remove one directory (configfs removes an entry's attributes with it). */
  rmdir(path: string): Promise<void>
  readFile(path: string): Promise<Uint8Array>
  writeFile(path: string, data: Uint8Array): Promise<void>
  exists(path: string): Promise<boolean>
}

/** The real file system. */
export const nodeTeeFiles: TeeFiles = {
  mkdir: async (path) => {
    await mkdir(path, { mode: 0o700 })
  },
  rmdir: (path) => rmdir(path),
  readFile: readToEnd,
  writeFile: (path, data) => writeFile(path, data),
  exists: async (path) => {
    try {
      await access(path)
      return true
    } catch {
      return false
    }
  },
}

/** Attributes are read to end of file whatever size stat reports (configfs, pseudo-files). */
const MAX_ATTRIBUTE_BYTES = 16 << 20
const CHUNK = 64 << 10

async function readToEnd(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r')
  try {
    const chunks: Uint8Array[] = []
    let total = 0
    for (;;) {
      const chunk = new Uint8Array(CHUNK)
      const { bytesRead } = await handle.read(chunk, 0, CHUNK, null)
      if (bytesRead === 0) break
      total += bytesRead
      if (total > MAX_ATTRIBUTE_BYTES) {
        throw Object.assign(new Error(`${path} is larger than ${MAX_ATTRIBUTE_BYTES} bytes`), {
          code: 'EFBIG',
        })
      }
      chunks.push(chunk.subarray(0, bytesRead))
    }
    const out = new Uint8Array(total)
    let at = 0
    for (const c of chunks) {
      out.set(c, at)
      at += c.length
    }
    return out
  } finally {
    await handle.close()
  }
}

/** The errno code of a failed file operation (`ENOENT`, `EIO`, ...), if any. */
export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** Text of a one-line attribute, without its trailing newline. */
export function attributeText(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes).replace(/\n$/, '')
}
