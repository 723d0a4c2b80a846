import type { RandomBytes } from '@subrosa/core'
import { GCM_OVERHEAD, gcmOpen, gcmSeal, NONCE_LENGTH } from '../aead.ts'
import { CryptoError } from '../errors.ts'

/** Module types of the AAD suffix (Encryption.md §4.4.2). */
export const MODULE_TYPE = {
  FOOTER: 0,
  COLUMN_META_DATA: 1,
  DATA_PAGE: 2,
  DICTIONARY_PAGE: 3,
  DATA_PAGE_HEADER: 4,
  DICTIONARY_PAGE_HEADER: 5,
  COLUMN_INDEX: 6,
  OFFSET_INDEX: 7,
  BLOOM_FILTER_HEADER: 8,
  BLOOM_FILTER_BITSET: 9,
} as const

/** Bytes a GCM module adds to its plaintext: length(4) + nonce(12) + tag(16). */
export const MODULE_OVERHEAD = 4 + GCM_OVERHEAD
/** Ordinals in the AAD are 2-byte shorts: at most 32767 row groups, columns, pages per chunk. */
export const MAX_ORDINAL = 0x7fff

/**
 * Module AAD = aad_prefix || aad_file_unique || type || [row group || column || [page]] with the
 * ordinals as little-endian i16. `fileAad` is the prefix and file-unique part already joined.
 */
export function moduleAad(
  fileAad: Uint8Array,
  type: number,
  rowGroup?: number,
  column?: number,
  page?: number,
): Uint8Array {
  const ordinals = [rowGroup, column, page].filter((n): n is number => n !== undefined)
  const aad = new Uint8Array(fileAad.length + 1 + 2 * ordinals.length)
  aad.set(fileAad, 0)
  const view = new DataView(aad.buffer)
  view.setUint8(fileAad.length, type)
  ordinals.forEach((n, i) => {
    if (n < 0 || n > MAX_ORDINAL) {
      throw new CryptoError(
        'ERR_PARQUET_UNSUPPORTED',
        `Ordinal ${n} does not fit a 2-byte AAD field`,
      )
    }
    view.setInt16(fileAad.length + 1 + 2 * i, n, true)
  })
  return aad
}

/** Encrypt one module as `length(4, LE) | nonce(12) | ciphertext | tag(16)`. */
export function encryptModule(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  random: RandomBytes,
): Uint8Array {
  if (plaintext.length > 0x7fffffff - MODULE_OVERHEAD) {
    throw new CryptoError(
      'ERR_PARQUET_UNSUPPORTED',
      'A module larger than 2 GiB cannot be encrypted',
    )
  }
  const out = gcmSeal(key, random(NONCE_LENGTH), plaintext, aad, 4)
  new DataView(out.buffer, out.byteOffset, 4).setUint32(0, out.length - 4, true)
  return out
}

/** The length a module's 4-byte prefix announces. */
export function moduleLength(prefix: Uint8Array): number {
  return new DataView(prefix.buffer, prefix.byteOffset, 4).getUint32(0, true)
}

/** Decrypt a module body (`nonce | ct | tag`, without the length); `undefined` on auth failure. */
export function decryptModuleBody(
  key: Uint8Array,
  body: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  return gcmOpen(key, body, aad)
}
