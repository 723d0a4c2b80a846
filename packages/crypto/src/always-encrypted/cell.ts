import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import { type RandomBytes, systemRandom } from '@subrosa/core'
import { CryptoError } from '../errors.ts'
import type { CellKeys } from './keys.ts'

/** How a column's cells get their IVs: from the value (equal values, equal cells) or at random. */
export type AeEncryptionType = 'deterministic' | 'randomized'

/** The only cell format version SQL Server defines. */
export const CELL_VERSION = 0x01
const TAG_LENGTH = 32
const IV_LENGTH = 16
const BLOCK = 16
const TAG_OFFSET = 1
const IV_OFFSET = TAG_OFFSET + TAG_LENGTH
const CIPHERTEXT_OFFSET = IV_OFFSET + IV_LENGTH
/** version + tag + IV + one AES block: the shortest cell (an empty plaintext pads to a block). */
export const MIN_CELL_LENGTH = CIPHERTEXT_OFFSET + BLOCK

const VERSION_BYTE = new Uint8Array([CELL_VERSION])
// The version length byte SQL Server appends after the ciphertext in the MAC input.
const VERSION_LENGTH = new Uint8Array([1])

function tagOf(keys: CellKeys, iv: Uint8Array, ciphertext: Uint8Array): Buffer {
  return createHmac('sha256', keys.macKey)
    .update(VERSION_BYTE)
    .update(iv)
    .update(ciphertext)
    .update(VERSION_LENGTH)
    .digest()
}

/**
 * Encrypt one cell: `0x01 | HMAC-SHA256 tag (32) | IV (16) | AES-256-CBC-PKCS7 ciphertext`, the
 * tag over `0x01 | IV | ciphertext | 0x01`. Deterministic IVs are HMAC-SHA256(ivKey, plaintext)
 * truncated to 16 bytes; randomized ones come from `random`.
 *
 * @example const cell = encryptCell(deriveCellKeys(cek), encodeAeValue(type, 42n), 'deterministic')
 */
export function encryptCell(
  keys: CellKeys,
  plaintext: Uint8Array,
  encryption: AeEncryptionType,
  random: RandomBytes = systemRandom,
): Uint8Array {
  const iv =
    encryption === 'deterministic'
      ? createHmac('sha256', keys.ivKey).update(plaintext).digest().subarray(0, IV_LENGTH)
      : random(IV_LENGTH)
  const cipher = createCipheriv('aes-256-cbc', keys.encKey, iv)
  const body = cipher.update(plaintext)
  const tail = cipher.final()
  const ciphertextLength = body.length + tail.length
  const cell = new Uint8Array(CIPHERTEXT_OFFSET + ciphertextLength)
  cell[0] = CELL_VERSION
  cell.set(iv, IV_OFFSET)
  cell.set(body, CIPHERTEXT_OFFSET)
  cell.set(tail, CIPHERTEXT_OFFSET + body.length)
  cell.set(tagOf(keys, iv, cell.subarray(CIPHERTEXT_OFFSET)), TAG_OFFSET)
  return cell
}

/**
 * Authenticate (constant-time, all 32 tag bytes) and decrypt one cell.
 *
 * @example const plaintext = decryptCell(deriveCellKeys(cek), cell)
 * @throws CryptoError `ERR_AE_CELL_TRUNCATED` (shorter than 65 bytes, or ciphertext not whole
 * blocks), `ERR_AE_CELL_VERSION` (first byte not 0x01), `ERR_AE_CELL_AUTH` (wrong key or
 * tampered version, tag, IV or ciphertext).
 */
export function decryptCell(keys: CellKeys, cell: Uint8Array): Uint8Array {
  if (cell.length < MIN_CELL_LENGTH || (cell.length - CIPHERTEXT_OFFSET) % BLOCK !== 0)
    throw new CryptoError(
      'ERR_AE_CELL_TRUNCATED',
      `An Always Encrypted cell of ${cell.length} bytes is not 49 bytes plus whole AES blocks`,
      { details: { length: cell.length } },
    )
  if (cell[0] !== CELL_VERSION)
    throw new CryptoError(
      'ERR_AE_CELL_VERSION',
      `An Always Encrypted cell has version byte ${cell[0]}, not ${CELL_VERSION}`,
      { details: { version: cell[0] ?? 0 } },
    )
  const iv = cell.subarray(IV_OFFSET, CIPHERTEXT_OFFSET)
  const ciphertext = cell.subarray(CIPHERTEXT_OFFSET)
  const expected = tagOf(keys, iv, ciphertext)
  if (!timingSafeEqual(expected, cell.subarray(TAG_OFFSET, IV_OFFSET)))
    throw new CryptoError(
      'ERR_AE_CELL_AUTH',
      'An Always Encrypted cell does not verify: wrong column key, or the cell was changed',
    )
  const decipher = createDecipheriv('aes-256-cbc', keys.encKey, iv)
  let body: Buffer
  let tail: Buffer
  try {
    body = decipher.update(ciphertext)
    tail = decipher.final()
  } catch {
    // Unreachable with a verified tag unless the keys disagree; never say which byte failed.
    throw new CryptoError('ERR_AE_CELL_AUTH', 'An Always Encrypted cell has invalid padding')
  }
  const out = new Uint8Array(body.length + tail.length)
  out.set(body, 0)
  out.set(tail, body.length)
  body.fill(0)
  return out
}
