import { randomBytes } from 'node:crypto'
import { type FileHandle, open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import type { ByteSink, ByteSource } from '@subrosa/crypto'

/** A read-only file as a random-access {@link ByteSource}; close it when done. */
export async function openFileSource(
  path: string,
): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(path, 'r')
  const size = (await handle.stat()).size
  return {
    size,
    async read(offset, length) {
      const buffer = new Uint8Array(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await handle.read(buffer, done, length - done, offset + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return done === length ? buffer : buffer.subarray(0, done)
    },
    close: () => handle.close(),
  }
}

/**
 * A {@link ByteSink} that writes to a temporary file beside `path` and renames it into place on
 * `commit()`, so a failure never leaves a partial file where the result belongs; `abort()`
 * removes the temporary file.
 */
export async function createAtomicFileSink(
  path: string,
  mode = 0o644,
): Promise<
  ByteSink & { commit(): Promise<void>; abort(): Promise<void>; readonly written: number }
> {
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`)
  const handle: FileHandle = await open(temp, 'wx', mode)
  let written = 0
  let closed = false
  const close = async () => {
    if (!closed) {
      closed = true
      await handle.close()
    }
  }
  return {
    get written() {
      return written
    },
    async write(bytes) {
      let offset = 0
      while (offset < bytes.length) {
        const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset)
        offset += bytesWritten
      }
      written += bytes.length
    },
    async writev(chunks) {
      let total = 0
      for (const c of chunks) total += c.length
      const { bytesWritten } = await handle.writev(chunks as Uint8Array[])
      if (bytesWritten !== total) {
        // A short vector write: finish the rest chunk by chunk.
        let skip = bytesWritten
        for (const c of chunks) {
          if (skip >= c.length) {
            skip -= c.length
            continue
          }
          let offset = skip
          skip = 0
          while (offset < c.length) {
            const r = await handle.write(c, offset, c.length - offset)
            offset += r.bytesWritten
          }
        }
      }
      written += total
    },
    async commit() {
      await handle.sync()
      await close()
      await rename(temp, path)
    },
    async abort() {
      await close()
      await rm(temp, { force: true })
    },
  }
}

/** Size of a file in bytes. */
export async function fileSize(path: string): Promise<number> {
  return (await stat(path)).size
}
