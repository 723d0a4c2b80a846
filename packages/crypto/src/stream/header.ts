// The header of Subrosa's streaming AEAD format (docs/formats.md, "Streaming AEAD files"):
//
//   magic "SRSA" | version u8 = 1 | algorithm u8 = 1 | flags u8 = 0 | log2(chunk size) u8
//   | file nonce (16) | key id length u16 LE | key id (UTF-8) | wrapped DEK length u16 LE
//   | wrapped DEK (UTF-8) | header tag (16)
//
// The header tag is an AES-GCM tag under the file key over the header's other bytes, so a changed
// chunk size, key id or wrapped DEK is refused before any chunk is read.
import { utf8 } from '@subrosa/core'
import { CryptoError } from '../errors.ts'
import type { ByteSource } from '../parquet/byte-io.ts'

export const STREAM_MAGIC = utf8('SRSA')
export const STREAM_VERSION = 1
/** AES-256-GCM, file key and nonce prefix from HKDF-SHA256(DEK, file nonce). */
export const STREAM_ALGORITHM = 1
export const FILE_NONCE_LENGTH = 16
export const HEADER_TAG_LENGTH = 16
export const MIN_CHUNK_LOG2 = 12
export const MAX_CHUNK_LOG2 = 24
/** 1 MiB of plaintext per chunk unless asked otherwise. */
export const DEFAULT_CHUNK_LOG2 = 20
const MAX_KEY_ID = 1024
const MAX_WRAPPED = 8192
const FIXED = 4 + 4 + FILE_NONCE_LENGTH

/** What a stream header says. */
export type StreamHeader = {
  readonly chunkSize: number
  readonly fileNonce: Uint8Array
  /** Which master key wraps the DEK (e.g. `subrosa:acme/taxi`). */
  readonly keyId: string
  /** The DEK wrapped by that master key (KMS wrap output). */
  readonly wrappedDek: string
}

/** The header's bytes without its tag (what the tag and every chunk's AAD cover). */
export function encodeHeaderBody(header: StreamHeader): Uint8Array {
  const log2 = Math.log2(header.chunkSize)
  if (!Number.isInteger(log2) || log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) {
    throw new CryptoError(
      'ERR_STREAM_MALFORMED',
      `The chunk size must be a power of two from 4 KiB to 16 MiB, not ${header.chunkSize}`,
    )
  }
  const keyId = utf8(header.keyId)
  const wrapped = utf8(header.wrappedDek)
  if (keyId.length > MAX_KEY_ID || wrapped.length > MAX_WRAPPED) {
    throw new CryptoError('ERR_STREAM_MALFORMED', 'The key id or wrapped DEK is too long')
  }
  if (header.fileNonce.length !== FILE_NONCE_LENGTH) {
    throw new CryptoError('ERR_STREAM_MALFORMED', `The file nonce is ${FILE_NONCE_LENGTH} bytes`)
  }
  const out = new Uint8Array(FIXED + 2 + keyId.length + 2 + wrapped.length)
  const view = new DataView(out.buffer)
  out.set(STREAM_MAGIC, 0)
  out.set([STREAM_VERSION, STREAM_ALGORITHM, 0, log2], 4)
  out.set(header.fileNonce, 8)
  let at = FIXED
  view.setUint16(at, keyId.length, true)
  out.set(keyId, at + 2)
  at += 2 + keyId.length
  view.setUint16(at, wrapped.length, true)
  out.set(wrapped, at + 2)
  return out
}

/**
 * Read and parse the header at the start of `source`; the tag is returned, not checked (that
 * needs the file key).
 *
 * @throws CryptoError `ERR_STREAM_MALFORMED` (not this format, unknown version or algorithm,
 * impossible lengths), `ERR_STREAM_TRUNCATED` (the file ends inside the header).
 */
export async function readStreamHeader(
  source: ByteSource,
): Promise<{ header: StreamHeader; body: Uint8Array; tag: Uint8Array; length: number }> {
  const take = async (offset: number, length: number): Promise<Uint8Array> => {
    if (offset + length > source.size) {
      throw new CryptoError('ERR_STREAM_TRUNCATED', 'The file ends inside its stream header')
    }
    return source.read(offset, length)
  }
  const start = await source.read(0, Math.min(source.size, STREAM_MAGIC.length))
  if (start.length === STREAM_MAGIC.length && !STREAM_MAGIC.every((b, i) => start[i] === b)) {
    throw new CryptoError('ERR_STREAM_MALFORMED', 'Not a Subrosa stream file (no SRSA magic)')
  }
  const fixed = await take(0, FIXED + 2)
  if (!STREAM_MAGIC.every((b, i) => fixed[i] === b)) {
    throw new CryptoError('ERR_STREAM_MALFORMED', 'Not a Subrosa stream file (no SRSA magic)')
  }
  const [version, algorithm, flags, log2] = fixed.subarray(4, 8) as unknown as number[]
  if (version !== STREAM_VERSION || algorithm !== STREAM_ALGORITHM || flags !== 0) {
    throw new CryptoError(
      'ERR_STREAM_MALFORMED',
      `Unknown stream version ${version}, algorithm ${algorithm} or flags ${flags}`,
    )
  }
  if (log2 === undefined || log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) {
    throw new CryptoError('ERR_STREAM_MALFORMED', `Impossible chunk size 2^${log2}`)
  }
  const keyIdLength = new DataView(fixed.buffer, fixed.byteOffset).getUint16(FIXED, true)
  if (keyIdLength > MAX_KEY_ID) throw new CryptoError('ERR_STREAM_MALFORMED', 'Key id too long')
  const rest = await take(FIXED + 2, keyIdLength + 2)
  const wrappedLength = new DataView(rest.buffer, rest.byteOffset).getUint16(keyIdLength, true)
  if (wrappedLength > MAX_WRAPPED)
    throw new CryptoError('ERR_STREAM_MALFORMED', 'Wrapped DEK too long')
  const bodyLength = FIXED + 2 + keyIdLength + 2 + wrappedLength
  const all = await take(0, bodyLength + HEADER_TAG_LENGTH)
  const header: StreamHeader = {
    chunkSize: 2 ** log2,
    fileNonce: all.slice(8, 8 + FILE_NONCE_LENGTH),
    keyId: text(all.subarray(FIXED + 2, FIXED + 2 + keyIdLength), 'key id'),
    wrappedDek: text(all.subarray(FIXED + 4 + keyIdLength, bodyLength), 'wrapped DEK'),
  }
  return {
    header,
    body: all.slice(0, bodyLength),
    tag: all.slice(bodyLength),
    length: bodyLength + HEADER_TAG_LENGTH,
  }
}

function text(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (cause) {
    throw new CryptoError('ERR_STREAM_MALFORMED', `The ${what} is not UTF-8`, { cause })
  }
}
