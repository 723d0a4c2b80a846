// Where job data lives. A job names inputs and outputs by location (a path, a `file:` URL, or an
// Azure Blob / ADLS Gen2 URL); the engine reads and writes them through an ObjectStore, so the
// Delta log and data files work the same on local disk and in a data lake. Objects hold
// ciphertext only: plaintext never goes through a store, only through the TEE's scratch dir.
import { createReadStream, createWriteStream } from 'node:fs'
import { link, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises'
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import { EngineError } from '../errors.ts'

/** Called with the bytes copied so far. */
export type CopyProgress = (bytes: number) => void

/**
 * A store of objects addressed by location strings of one kind (local paths, or URLs of one
 * storage account). Locations passed to one store come from {@link joinLocation} over a root
 * the store resolved.
 */
export interface ObjectStore {
  readonly kind: 'local' | 'azure'
  /** Size in bytes, or `undefined` when there is no such object. */
  stat(location: string): Promise<{ readonly size: number } | undefined>
  /** Names of the objects under `prefix` (a directory-like location), relative to it, sorted. */
  list(prefix: string): Promise<string[]>
  /** A whole small object (a Delta commit, a key-material sidecar). */
  readBytes(location: string): Promise<Uint8Array>
  /** Copy an object into a local file (the TEE's scratch dir), streaming. Returns the bytes. */
  download(location: string, localPath: string, onProgress?: CopyProgress): Promise<number>
  /** Copy a local file to an object, replacing it, streaming. Returns the bytes. */
  upload(localPath: string, location: string, onProgress?: CopyProgress): Promise<number>
  /**
   * Create an object only if none exists (how Delta commits are made atomic).
   *
   * @throws EngineError `ERR_ENGINE_CONFLICT` when the object exists.
   */
  putIfAbsent(location: string, bytes: Uint8Array): Promise<void>
  /** Remove an object; no error when it is absent. */
  delete(location: string): Promise<void>
}

/** Join a relative, `/`-separated path onto a location of either kind. */
export function joinLocation(base: string, path: string): string {
  if (isUrl(base)) {
    const url = new URL(base.endsWith('/') ? base : `${base}/`)
    return new URL(path.split('/').map(encodeURIComponent).join('/'), url).toString()
  }
  return join(base, ...path.split('/'))
}

/** A URL with a scheme (`https://…`), not a local path. */
export function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location)
}

/**
 * Resolve a job location to a local path: a `file:` URL, an absolute path, or a path relative to
 * the job file's directory.
 *
 * @throws EngineError `ERR_ENGINE_UNSUPPORTED` for a URL that is not a `file:` URL.
 */
export function localPath(uri: string, baseDir: string): string {
  if (uri.startsWith('file:')) return fileURLToPath(uri)
  if (isUrl(uri))
    throw new EngineError(
      'ERR_ENGINE_UNSUPPORTED',
      `No storage is configured for ${uri.split(':')[0]}:// locations`,
    )
  return isAbsolute(uri) ? uri : resolve(baseDir, uri)
}

function counter(onProgress: CopyProgress | undefined): Transform {
  let bytes = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      onProgress?.(bytes)
      callback(null, chunk)
    },
  })
}

function ioError(what: string, location: string, cause: unknown): EngineError {
  return new EngineError('ERR_ENGINE_STORAGE', `Cannot ${what} ${location}`, { cause })
}

/** The local file system as an ObjectStore (locations are absolute paths). */
export function createLocalStore(): ObjectStore {
  return {
    kind: 'local',
    async stat(location) {
      const s = await stat(location).catch(() => undefined)
      return s?.isFile() === true ? { size: s.size } : undefined
    },
    async list(prefix) {
      const entries = await readdir(prefix, { recursive: true, withFileTypes: true }).catch(
        (cause: unknown) => {
          if ((cause as NodeJS.ErrnoException).code === 'ENOENT') return []
          throw ioError('list', prefix, cause)
        },
      )
      return entries
        .filter((e) => e.isFile())
        .map((e) => relative(prefix, join(e.parentPath, e.name)).split(sep).join('/'))
        .sort()
    },
    async readBytes(location) {
      return new Uint8Array(
        await readFile(location).catch((cause: unknown) => {
          throw ioError('read', location, cause)
        }),
      )
    },
    async download(location, localPath, onProgress) {
      const progress = counter(onProgress)
      await pipeline(
        createReadStream(location),
        progress,
        createWriteStream(localPath, { mode: 0o600 }),
      ).catch((cause: unknown) => {
        throw ioError('read', location, cause)
      })
      return (await stat(localPath)).size
    },
    async upload(localPath, location, onProgress) {
      await mkdir(dirname(location), { recursive: true })
      const temp = `${location}.${process.pid}.${Date.now()}.tmp`
      try {
        await pipeline(createReadStream(localPath), counter(onProgress), createWriteStream(temp))
        await rename(temp, location)
      } catch (cause) {
        await rm(temp, { force: true })
        throw ioError('write', location, cause)
      }
      return (await stat(location)).size
    },
    async putIfAbsent(location, bytes) {
      await mkdir(dirname(location), { recursive: true })
      // Write a temp file, then hard-link it into place: link fails if the name exists, and a
      // reader never sees a partly written object.
      const temp = `${location}.${process.pid}.${Date.now()}.tmp`
      const handle = await open(temp, 'wx')
      try {
        await handle.writeFile(bytes)
        await handle.sync()
      } finally {
        await handle.close()
      }
      try {
        await link(temp, location)
      } catch (cause) {
        if ((cause as NodeJS.ErrnoException).code === 'EEXIST')
          throw new EngineError('ERR_ENGINE_CONFLICT', `${location} already exists`)
        throw ioError('write', location, cause)
      } finally {
        await rm(temp, { force: true })
      }
    },
    async delete(location) {
      await rm(location, { force: true })
    },
  }
}
