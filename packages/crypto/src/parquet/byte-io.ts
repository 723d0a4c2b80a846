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

/**
 * Sequential output. `write` may keep the array it is given: callers never reuse it. `writev`,
 * when present, takes several arrays at once (so they need not be copied into one).
 */
export type ByteSink = {
  write(bytes: Uint8Array): Promise<void>
  writev?(chunks: readonly Uint8Array[]): Promise<void>
}

/** A {@link ByteSource} over bytes in memory. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    size: bytes.length,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
  }
}

/** A source that can hold one region in memory: reads inside it cost no I/O. */
export type SpanCachedSource = ByteSource & {
  /**
   * Read `[start, end)` once (or take the read `prefetch` started for exactly it) and serve reads
   * inside it from memory until the next `hold`; an empty span frees it.
   */
  hold(start: number, end: number): Promise<void>
  /** Start reading `[start, end)` for a later `hold`, so the I/O overlaps the caller's work. */
  prefetch(start: number, end: number): void
}

/**
 * Wrap `source` so that regions read in one I/O each serve many smaller reads: the column chunks
 * of a row group (one read per chunk otherwise), page indexes and bloom filters.
 */
export function spanCachedSource(source: ByteSource): SpanCachedSource {
  let start = 0
  let held: Uint8Array | undefined
  let ahead: { start: number; end: number; bytes: Promise<Uint8Array> } | undefined
  return {
    size: source.size,
    read(offset, length) {
      if (held !== undefined && offset >= start && offset + length <= start + held.length)
        return Promise.resolve(held.subarray(offset - start, offset - start + length))
      return source.read(offset, length)
    },
    async hold(from, to) {
      held = undefined
      const next = ahead
      ahead = undefined
      if (to <= from) return
      held = await (next !== undefined && next.start === from && next.end === to
        ? next.bytes
        : readExact(source, from, to - from))
      start = from
    },
    prefetch(from, to) {
      const bytes = readExact(source, from, to - from)
      // Awaited by the matching hold, which rethrows; unmatched, it is dropped.
      bytes.catch(() => undefined)
      ahead = { start: from, end: to, bytes }
    },
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
    writev: async (chunks) => {
      for (const bytes of chunks) {
        parts.push(bytes)
        size += bytes.length
      }
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
  /** `take` without waiting: `undefined` when the bytes are not loaded yet. */
  takeLoaded(n: number): Uint8Array | undefined
  /** `peek` without waiting: `undefined` when fewer than `n` bytes are loaded. */
  peekLoaded(n: number): Uint8Array | undefined
}

export function rangeReader(source: ByteSource, start: number, end: number): RangeReader {
  let position = start
  // Segments read from the source, in order; the first starts at or before `position`.
  const segments: Uint8Array[] = []
  let segmentsStart = start
  let loaded = start
  const fill = async (n: number) => {
    if (n > end - position) {
      throw new CryptoError(
        'ERR_PARQUET_MALFORMED',
        `A page runs past the end of its column chunk (byte ${end})`,
        { details: { position, end } },
      )
    }
    while (loaded - position < n) {
      const want = Math.min(Math.max(n - (loaded - position), WINDOW), end - loaded)
      segments.push(await readExact(source, loaded, want))
      loaded += want
    }
  }
  /** `n` bytes at `position`: a view when one segment holds them, else a copy of just them. */
  const view = (n: number): Uint8Array => {
    // Drop segments wholly before `position`.
    while (segments.length > 0 && segmentsStart + (segments[0] as Uint8Array).length <= position) {
      segmentsStart += (segments.shift() as Uint8Array).length
    }
    const first = segments[0]
    const offset = position - segmentsStart
    if (first === undefined) return new Uint8Array(0)
    if (first.length - offset >= n) return first.subarray(offset, offset + n)
    const out = new Uint8Array(n)
    let copied = 0
    let at = offset
    for (const segment of segments) {
      const part = segment.subarray(at, Math.min(segment.length, at + n - copied))
      out.set(part, copied)
      copied += part.length
      at = 0
      if (copied === n) break
    }
    return out
  }
  /** At least `n` loaded bytes: the rest of the segment when it holds them, else a copy of n. */
  const atLeast = (n: number): Uint8Array => {
    const bytes = view(n)
    const first = segments[0] as Uint8Array
    const offset = position - segmentsStart
    return bytes.buffer === first.buffer && first.length - offset > n
      ? first.subarray(offset)
      : bytes
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
      return atLeast(n)
    },
    async take(n) {
      await fill(n)
      const out = view(n)
      position += n
      return out
    },
    takeLoaded(n) {
      if (n > end - position || loaded - position < n) return undefined
      const out = view(n)
      position += n
      return out
    },
    peekLoaded(n) {
      if (loaded - position < n || n > end - position) return undefined
      return atLeast(n)
    },
  }
}

/** Buffers small writes into ~1 MiB sink writes and tracks the output position. */
export type OutputWriter = {
  readonly position: number
  write(bytes: Uint8Array): Promise<void>
  /** Several arrays in order, with at most one flush (one await per page, not per part). */
  writeAll(parts: readonly Uint8Array[]): Promise<void>
  flush(): Promise<void>
}

const DONE: Promise<void> = Promise.resolve()

export function outputWriter(sink: ByteSink): OutputWriter {
  let position = 0
  let pending: Uint8Array[] = []
  let pendingSize = 0
  const flush = async () => {
    if (pendingSize === 0) return
    const chunks = pending
    pending = []
    pendingSize = 0
    if (chunks.length === 1) await sink.write(chunks[0] as Uint8Array)
    else if (sink.writev !== undefined) await sink.writev(chunks)
    else await sink.write(concatBytes(...chunks))
  }
  return {
    get position() {
      return position
    },
    write(bytes) {
      position += bytes.length
      pending.push(bytes)
      pendingSize += bytes.length
      return pendingSize >= WINDOW ? flush() : DONE
    },
    writeAll(parts) {
      for (const bytes of parts) {
        position += bytes.length
        pending.push(bytes)
        pendingSize += bytes.length
      }
      return pendingSize >= WINDOW ? flush() : DONE
    },
    flush,
  }
}
