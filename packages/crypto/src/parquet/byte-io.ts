import { concatBytes } from '@subrosa/core'
import { CryptoError } from '../errors.ts'

/**
 * Random-access input: the library reads a Parquet file through it, a page at a time, so a file
 * of any size works. Apps implement it over files or object storage; {@link bytesSource} wraps
 * memory. `read` returns exactly `length` bytes of the range (it is never asked past `size`).
 */
export type ByteSource = {
  readonly size: number
  read(offset: number, length: number): Promise<Uint8Array>
}

/** Sequential output. `write` may keep the array it is given: callers never reuse it. */
export type ByteSink = { write(bytes: Uint8Array): Promise<void> }

/** A {@link ByteSource} over bytes in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  }
}

/** A {@link ByteSink} collecting everything in memory; `bytes()` returns what was written. */
export function memorySink(): ByteSink & { bytes(): Uint8Array; readonly size: number } {
  const parts: Uint8Array[] = []
  let size = 0
  return {
    write: async (bytes) => {
      parts.push(bytes)
      size += bytes.length
    },
    bytes: () => concatBytes(...parts),
    get size() {
      return size
    },
  }
}

/**
 * Read exactly `[offset, offset + length)` of a source.
 *
 * @throws CryptoError `ERR_PARQUET_TRUNCATED` when the range passes the end or the source returns
 * fewer bytes.
 */
export async function readExact(
  source: ByteSource,
  offset: number,
  length: number,
): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw new CryptoError(
      'ERR_PARQUET_TRUNCATED',
      `The file ends before byte ${offset + length} (size ${source.size})`,
      { details: { offset, length, size: source.size } },
    )
  }
  if (length === 0) return new Uint8Array(0)
  const bytes = await source.read(offset, length)
  if (bytes.length !== length) {
    throw new CryptoError(
      'ERR_PARQUET_TRUNCATED',
      `Read ${bytes.length} bytes at ${offset} instead of ${length}`,
      { details: { offset, length } },
    )
  }
  return bytes
}

const WINDOW = 1 << 20

/**
 * Sequential reads over `[start, end)` of a source with a read-ahead window, so page headers
 * (whose length is only known once parsed) cost no extra round trips. Memory is bounded by the
 * window plus the largest page.
 */
export type RangeReader = {
  readonly position: number
  readonly remaining: number
  /** At least `n` bytes from the current position (possibly more), without consuming them. */
  peek(n: number): Promise<Uint8Array>
  /** Exactly `n` bytes from the current position, consumed. */
  take(n: number): Promise<Uint8Array>
}

export function rangeReader(source: ByteSource, start: number, end: number): RangeReader {
  let position = start
  let buffer: Uint8Array = new Uint8Array(0)
  let bufferStart = start
  const available = () => bufferStart + buffer.length - position
  const fill = async (n: number) => {
    if (n > end - position) {
      throw new CryptoError(
        'ERR_PARQUET_MALFORMED',
        `A page runs past the end of its column chunk (byte ${end})`,
        { details: { position, end } },
      )
    }
    if (available() >= n) return
    const keep = buffer.subarray(position - bufferStart)
    const more = await readExact(
      source,
      position + keep.length,
      Math.min(Math.max(n, WINDOW) - keep.length, end - position - keep.length),
    )
    buffer = keep.length === 0 ? more : concatBytes(keep, more)
    bufferStart = position
  }
  return {
    get position() {
      return position
    },
    get remaining() {
      return end - position
    },
    async peek(n) {
      await fill(n)
      return buffer.subarray(position - bufferStart)
    },
    async take(n) {
      await fill(n)
      const out = buffer.subarray(position - bufferStart, position - bufferStart + n)
      position += n
      return out
    },
  }
}

/** Buffers small writes into ~1 MiB sink writes and tracks the output position. */
export type OutputWriter = {
  readonly position: number
  write(bytes: Uint8Array): Promise<void>
  flush(): Promise<void>
}

export function outputWriter(sink: ByteSink): OutputWriter {
  let position = 0
  let pending: Uint8Array[] = []
  let pendingSize = 0
  const flush = async () => {
    if (pendingSize === 0) return
    const chunk = pending.length === 1 ? (pending[0] as Uint8Array) : concatBytes(...pending)
    pending = []
    pendingSize = 0
    await sink.write(chunk)
  }
  return {
    get position() {
      return position
    },
    async write(bytes) {
      position += bytes.length
      if (bytes.length >= WINDOW) {
        await flush()
        await sink.write(bytes)
        return
      }
      pending.push(bytes)
      pendingSize += bytes.length
      if (pendingSize >= WINDOW) await flush()
    },
    flush,
  }
}
