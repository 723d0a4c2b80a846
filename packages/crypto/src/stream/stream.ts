// Subrosa's streaming AEAD format: a header (header.ts), then the plaintext in chunks of
// `chunkSize` bytes, each sealed with AES-256-GCM as `ciphertext | tag(16)`, the last one shorter
// (possibly empty) and flagged final. Per file: key | nonce prefix = HKDF-SHA256(DEK, salt = file
// nonce, info = "subrosa-stream/v1", 39 bytes). Chunk i: nonce = prefix(7) | i (u32 BE) |
// final (u8: 1 for the last chunk, else 0), AAD = SHA-256(header without its tag). So a chunk
// moved to another position, another file, or after the end, does not verify, and a file cut at a
// chunk boundary lacks its final chunk.
import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto'
import { type RandomBytes, systemRandom } from '@subrosa/core'
import { CryptoError } from '../errors.ts'
import { type ByteSink, type ByteSource, readExact } from '../parquet/byte-io.ts'
import {
  DEFAULT_CHUNK_LOG2,
  encodeHeaderBody,
  FILE_NONCE_LENGTH,
  readStreamHeader,
  type StreamHeader,
} from './header.ts'

const TAG = 16
const HEADER_INDEX = 0xffffffff
const MAX_CHUNKS = 0xfffffffe
/** How far from its position a failing chunk is looked for, to tell reordering from tampering. */
const REORDER_WINDOW = 64

type FileKey = { readonly key: Uint8Array; readonly prefix: Uint8Array; readonly aad: Uint8Array }

function fileKey(dek: Uint8Array, fileNonce: Uint8Array, headerBody: Uint8Array): FileKey {
  if (dek.length !== 32) {
    throw new CryptoError('ERR_CRYPTO_KEY_LENGTH', `A stream DEK is 32 bytes, not ${dek.length}`)
  }
  const okm = new Uint8Array(hkdfSync('sha256', dek, fileNonce, 'subrosa-stream/v1', 39))
  return {
    key: okm.subarray(0, 32),
    prefix: okm.subarray(32),
    aad: new Uint8Array(createHash('sha256').update(headerBody).digest()),
  }
}

function nonce(fk: FileKey, index: number, final: number): Uint8Array {
  const n = new Uint8Array(12)
  n.set(fk.prefix, 0)
  new DataView(n.buffer).setUint32(7, index, false)
  n[11] = final
  return n
}

function seal(fk: FileKey, index: number, final: number, plaintext: Uint8Array): Uint8Array[] {
  const c = createCipheriv('aes-256-gcm', fk.key, nonce(fk, index, final))
  c.setAAD(fk.aad)
  const body = c.update(plaintext)
  c.final()
  return [body, c.getAuthTag()]
}

function open(
  fk: FileKey,
  index: number,
  final: number,
  chunk: Uint8Array,
): Uint8Array | undefined {
  if (chunk.length < TAG) return undefined
  const d = createDecipheriv('aes-256-gcm', fk.key, nonce(fk, index, final))
  d.setAAD(fk.aad)
  d.setAuthTag(chunk.subarray(chunk.length - TAG))
  const body = d.update(chunk.subarray(0, chunk.length - TAG))
  try {
    d.final()
  } catch {
    body.fill(0)
    return undefined
  }
  return body
}

/** Options of {@link encryptStream}. */
export type EncryptStreamOptions = {
  /** The 32-byte data key; only its wrapped form is stored. */
  readonly dek: Uint8Array
  readonly keyId: string
  readonly wrappedDek: string
  /** Plaintext bytes per chunk, a power of two from 4 KiB to 16 MiB (default 1 MiB). */
  readonly chunkSize?: number
  readonly random?: RandomBytes
  /** Called after each chunk with the plaintext bytes done so far. */
  readonly onProgress?: (bytes: number) => void
}

/**
 * Encrypt `source` into Subrosa's streaming AEAD format, one chunk in memory at a time.
 *
 * @example await encryptStream(openFileSource('in.csv'), sink, { dek, keyId, wrappedDek })
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH`, `ERR_STREAM_MALFORMED` (bad chunk size or ids).
 */
export async function encryptStream(
  source: ByteSource,
  sink: ByteSink,
  options: EncryptStreamOptions,
): Promise<{ bytes: number; chunks: number }> {
  const header: StreamHeader = {
    chunkSize: options.chunkSize ?? 2 ** DEFAULT_CHUNK_LOG2,
    fileNonce: (options.random ?? systemRandom)(FILE_NONCE_LENGTH),
    keyId: options.keyId,
    wrappedDek: options.wrappedDek,
  }
  const body = encodeHeaderBody(header)
  const fk = fileKey(options.dek, header.fileNonce, body)
  const [, headerTag] = seal(fk, HEADER_INDEX, 2, new Uint8Array(0))
  await write(sink, [body, headerTag as Uint8Array])
  const chunks = Math.floor(source.size / header.chunkSize) + 1
  if (chunks > MAX_CHUNKS) {
    throw new CryptoError('ERR_STREAM_MALFORMED', 'The file has too many chunks for its chunk size')
  }
  for (let i = 0; i < chunks; i++) {
    const start = i * header.chunkSize
    const length = Math.min(header.chunkSize, source.size - start)
    const plaintext = await readExact(source, start, length)
    await write(sink, seal(fk, i, i === chunks - 1 ? 1 : 0, plaintext))
    options.onProgress?.(start + length)
  }
  return { bytes: source.size, chunks }
}

/** Options of {@link decryptStream}. */
export type DecryptStreamOptions = {
  /** The DEK for the header's key id and wrapped DEK (a KMS unwrap, usually). */
  readonly dekFor: (header: StreamHeader) => Promise<Uint8Array>
  readonly onProgress?: (bytes: number) => void
}

/**
 * Decrypt a streaming AEAD file chunk by chunk. Each chunk is written only after it verifies;
 * on an error the sink holds a verified prefix, so write to an atomic sink and discard it then.
 *
 * @throws CryptoError `ERR_STREAM_MALFORMED`, `ERR_STREAM_HEADER_AUTH` (wrong key or changed
 * header), `ERR_STREAM_TRUNCATED` (the final chunk is missing), `ERR_STREAM_REORDERED` (a chunk
 * of this file at another position), `ERR_STREAM_CHUNK_AUTH` (a chunk of another file, or
 * tampered).
 */
export async function decryptStream(
  source: ByteSource,
  sink: ByteSink,
  options: DecryptStreamOptions,
): Promise<{ header: StreamHeader; bytes: number; chunks: number }> {
  const { header, body, tag, length } = await readStreamHeader(source)
  const dek = await options.dekFor(header)
  const fk = fileKey(dek, header.fileNonce, body)
  const [, expected] = seal(fk, HEADER_INDEX, 2, new Uint8Array(0))
  if (!equal(expected as Uint8Array, tag)) {
    throw new CryptoError(
      'ERR_STREAM_HEADER_AUTH',
      'The stream header does not verify: wrong key, or the header was changed',
    )
  }
  const physical = header.chunkSize + TAG
  const rest = source.size - length
  const chunks = Math.floor(rest / physical) + 1
  const lastLength = rest - (chunks - 1) * physical
  if (lastLength < TAG) {
    throw new CryptoError(
      'ERR_STREAM_TRUNCATED',
      'The file ends without its final chunk (cut at or near a chunk boundary)',
      { details: { chunks: chunks - 1 } },
    )
  }
  let bytes = 0
  for (let i = 0; i < chunks; i++) {
    const final = i === chunks - 1 ? 1 : 0
    const chunk = await readExact(source, length + i * physical, final ? lastLength : physical)
    const plaintext = open(fk, i, final, chunk)
    if (plaintext === undefined) throw misplaced(fk, i, chunk, chunks)
    await sink.write(plaintext)
    bytes += plaintext.length
    options.onProgress?.(bytes)
  }
  return { header, bytes, chunks }
}

/** Why chunk `i` does not verify where it is: the error to throw. */
function misplaced(fk: FileKey, i: number, chunk: Uint8Array, chunks: number): CryptoError {
  const from = Math.max(0, i - REORDER_WINDOW)
  const to = Math.min(chunks + REORDER_WINDOW, i + REORDER_WINDOW)
  for (let k = from; k <= to; k++) {
    if (k === i) continue
    for (const f of [0, 1]) {
      if (open(fk, k, f, chunk) !== undefined) {
        return new CryptoError(
          'ERR_STREAM_REORDERED',
          `Chunk ${i} of the file is its chunk ${k}${f === 1 ? ' (the final one)' : ''}: the chunks were reordered, duplicated or dropped`,
          { details: { chunk: i, belongsAt: k } },
        )
      }
    }
  }
  return new CryptoError(
    'ERR_STREAM_CHUNK_AUTH',
    `Chunk ${i} does not verify: it comes from another file, or it was changed`,
    { details: { chunk: i } },
  )
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= (a[i] as number) ^ (b[i] as number)
  return d === 0
}

async function write(sink: ByteSink, parts: Uint8Array[]): Promise<void> {
  if (sink.writev !== undefined) await sink.writev(parts)
  else for (const p of parts) await sink.write(p)
}
