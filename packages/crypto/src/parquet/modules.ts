import { type RandomBytes, systemRandom } from '@subrosa/core'
import { ctrCrypt, GCM_OVERHEAD, gcmOpen, gcmSeal, gcmSealParts, NONCE_LENGTH } from '../aead.ts'
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

/** The two PME algorithms; they differ only in how pages (not headers) are encrypted. */
export type PmeAlgorithm = 'AES_GCM_V1' | 'AES_GCM_CTR_V1'

/** What encrypts one column's modules (or the footer): its key, the algorithm, the file AAD. */
export type ModuleCipher = {
  readonly key: Uint8Array
  readonly algorithm: PmeAlgorithm
  /** aad_prefix || aad_file_unique */
  readonly fileAad: Uint8Array
}

/** Bytes a page module adds: GCM `len|nonce|ct|tag` or CTR `len|nonce|ct`. */
export function pageOverhead(algorithm: PmeAlgorithm): number {
  return algorithm === 'AES_GCM_V1' ? MODULE_OVERHEAD : 4 + NONCE_LENGTH
}

/**
 * Nonces for many modules: the system CSPRNG read 4 KiB at a time (one call per ~340 modules
 * instead of one each). Any other source (tests inject deterministic ones) is used as is.
 */
export function nonceSource(random: RandomBytes): RandomBytes {
  if (random !== systemRandom) return random
  let pool: Uint8Array = new Uint8Array(0)
  let at = 0
  return (n) => {
    if (at + n > pool.length) {
      pool = systemRandom(Math.max(4096, n))
      at = 0
    }
    const out = pool.subarray(at, at + n)
    at += n
    return out
  }
}

/** Parts of a length-prefixed module, as written one after the other. */
function withLength(parts: Uint8Array[]): Uint8Array[] {
  let length = -4
  for (const p of parts) length += p.length
  new DataView((parts[0] as Uint8Array).buffer, (parts[0] as Uint8Array).byteOffset, 4).setUint32(
    0,
    length,
    true,
  )
  return parts
}

/** {@link encryptModule} as parts, the ciphertext not copied: for pages. */
export function encryptModuleParts(
  key: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
  random: RandomBytes,
): Uint8Array[] {
  if (plaintext.length > 0x7fffffff - MODULE_OVERHEAD) {
    throw new CryptoError(
      'ERR_PARQUET_UNSUPPORTED',
      'A module larger than 2 GiB cannot be encrypted',
    )
  }
  return withLength(gcmSealParts(key, random(NONCE_LENGTH), plaintext, aad, 4))
}

/**
 * Encrypt a data or dictionary page into the parts of its module, the ciphertext not copied: a
 * GCM module under AES_GCM_V1, a CTR module `len(4) | nonce(12) | ct` under AES_GCM_CTR_V1 (no
 * tag; the AAD is not used).
 */
export function encryptPageParts(
  cipher: ModuleCipher,
  plaintext: Uint8Array,
  aad: Uint8Array,
  random: RandomBytes,
): Uint8Array[] {
  if (cipher.algorithm === 'AES_GCM_V1')
    return encryptModuleParts(cipher.key, plaintext, aad, random)
  if (plaintext.length > 0x7fffffff - 16) {
    throw new CryptoError('ERR_PARQUET_UNSUPPORTED', 'A page larger than 2 GiB cannot be encrypted')
  }
  const nonce = random(NONCE_LENGTH)
  const head = new Uint8Array(4 + NONCE_LENGTH)
  head.set(nonce, 4)
  return withLength([head, ctrCrypt(cipher.key, nonce, plaintext)])
}

/**
 * Decrypt a page module body (without its length). GCM: `undefined` when authentication fails.
 * CTR: always a plaintext (CTR cannot detect tampering); `undefined` only when too short.
 */
export function decryptPageBody(
  cipher: ModuleCipher,
  body: Uint8Array,
  aad: Uint8Array,
): Uint8Array | undefined {
  if (cipher.algorithm === 'AES_GCM_V1') return gcmOpen(cipher.key, body, aad)
  if (body.length < NONCE_LENGTH) return undefined
  return ctrCrypt(cipher.key, body.subarray(0, NONCE_LENGTH), body.subarray(NONCE_LENGTH))
}
