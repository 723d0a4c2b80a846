import { createHmac } from 'node:crypto'
import { CryptoError } from '../errors.ts'

/** The cell algorithm, as SQL Server names it in `ENCRYPTED WITH (ALGORITHM = ...)`. */
export const AE_ALGORITHM = 'AEAD_AES_256_CBC_HMAC_SHA_256'

/** Column encryption key length: AEAD_AES_256_CBC_HMAC_SHA_256 takes a 256-bit root key. */
export const CEK_LENGTH = 32

/** The three keys a cell is processed with, each derived from the column encryption key. */
export type CellKeys = {
  readonly encKey: Uint8Array
  readonly macKey: Uint8Array
  readonly ivKey: Uint8Array
}

// The drivers spell the algorithm without the underscore before 256 in these labels.
const label = (purpose: 'encryption' | 'MAC' | 'IV') =>
  Buffer.from(
    `Microsoft SQL Server cell ${purpose} key with encryption algorithm:AEAD_AES_256_CBC_HMAC_SHA256 and key length:256`,
    'utf16le',
  )
const LABELS = { encKey: label('encryption'), macKey: label('MAC'), ivKey: label('IV') }

/**
 * Derive the encryption, MAC and IV keys from a column encryption key (CEK) as SQL Server's
 * Always Encrypted does: HMAC-SHA256(CEK, UTF-16LE label) for each.
 *
 * @example const keys = deriveCellKeys(cek)
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH` unless the CEK is 32 bytes.
 */
export function deriveCellKeys(cek: Uint8Array): CellKeys {
  if (cek.length !== CEK_LENGTH)
    throw new CryptoError(
      'ERR_CRYPTO_KEY_LENGTH',
      `A column encryption key must be ${CEK_LENGTH} bytes, not ${cek.length}`,
      { details: { length: cek.length } },
    )
  const derive = (msg: Uint8Array) => new Uint8Array(createHmac('sha256', cek).update(msg).digest())
  return {
    encKey: derive(LABELS.encKey),
    macKey: derive(LABELS.macKey),
    ivKey: derive(LABELS.ivKey),
  }
}

/** Overwrite derived keys once they are no longer needed. */
export function wipeCellKeys(keys: CellKeys): void {
  keys.encKey.fill(0)
  keys.macKey.fill(0)
  keys.ivKey.fill(0)
}
