import { BaseError } from '@subrosa/core'

/** Codes of `crypto`, each with the one-line meaning published in docs/errors.md. */
export const CRYPTO_ERRORS = {
  ERR_CRYPTO_KEY_LENGTH:
    'A key has a length the algorithm does not accept (AES: 16, 24 or 32 bytes).',
  ERR_CRYPTO_AUTH: 'AES-GCM authentication failed: wrong key, wrong context/AAD, or tampered data.',
  ERR_CRYPTO_WRAPPED_KEY_MALFORMED:
    'A wrapped key is not nonce|ciphertext|tag (or not valid base64 where base64 is expected).',
  ERR_CRYPTO_SEALED_MALFORMED: 'A sealed secret is too short or has an unknown version byte.',
  ERR_CRYPTO_UNKNOWN_MASTER_KEY: 'The KMS holds no master key with the requested id.',
  ERR_CRYPTO_SHAMIR_PARAMS:
    'Shamir split parameters are invalid: empty secret, or not 1 <= k <= n <= 255.',
  ERR_CRYPTO_SHAMIR_SHARE:
    'Shamir shares cannot be combined: none given, an index outside 1..255, a repeated index, or different lengths.',
  ERR_STREAM_MALFORMED:
    'A file is not in Subrosa streaming AEAD format, or its header has an impossible field.',
  ERR_STREAM_HEADER_AUTH:
    'A stream header does not verify under the file key: wrong key, or the header was changed.',
  ERR_STREAM_TRUNCATED: 'A stream file ends without its final chunk: it was cut.',
  ERR_STREAM_REORDERED:
    'A chunk of the stream file sits at another position: chunks were reordered, dropped or duplicated.',
  ERR_STREAM_CHUNK_AUTH:
    'A stream chunk does not verify anywhere in the file: it comes from another file or was changed.',
  ERR_PARQUET_MALFORMED: 'A Parquet file or one of its Thrift structures is invalid.',
  ERR_PARQUET_TRUNCATED: 'A Parquet file ends before its structures do (truncated file).',
  ERR_PARQUET_NOT_ENCRYPTED: 'A plaintext Parquet file was given where an encrypted one is needed.',
  ERR_PARQUET_ALREADY_ENCRYPTED:
    'An encrypted Parquet file was given where a plaintext one is needed.',
  ERR_PARQUET_UNSUPPORTED:
    'The Parquet file uses a feature this version does not handle (index pages, column data in other files, more than 32767 row groups, columns or pages per chunk).',
  ERR_PARQUET_KEY_MATERIAL: 'key_metadata is missing or is not valid PKMT1 key material.',
  ERR_PARQUET_AAD_PREFIX:
    'The file needs an AAD prefix that was not supplied, or the supplied one differs from the stored one.',
  ERR_PARQUET_FOOTER_AUTH:
    'The encrypted footer failed authentication: wrong footer key or tampered footer.',
  ERR_PARQUET_MODULE_AUTH:
    'A module (page, page header, column metadata, index or bloom filter) failed authentication: tampered, reordered or swapped.',
  ERR_PARQUET_KEY_UNAVAILABLE:
    'The reader has no key for the footer or for an encrypted column it was asked to read.',
  ERR_PARQUET_COLUMN:
    'A column named in an encryption setting is not in the file, or is named twice.',
  ERR_AE_CELL_TRUNCATED:
    'An Always Encrypted cell is shorter than 65 bytes, or its ciphertext is not whole AES blocks.',
  ERR_AE_CELL_VERSION: 'An Always Encrypted cell does not start with the version byte 0x01.',
  ERR_AE_CELL_AUTH:
    "An Always Encrypted cell's HMAC tag does not verify: wrong column encryption key, or a tampered cell.",
  ERR_AE_UNSUPPORTED_TYPE: 'Always Encrypted cells are not implemented for this SQL type.',
  ERR_AE_VALUE:
    'A value does not fit its SQL type (wrong kind, out of range, too many digits), or decrypted bytes are not a valid encoding of the type.',
} as const

export type CryptoErrorCode = keyof typeof CRYPTO_ERRORS

/** The error every `@subrosa/crypto` function throws; `code` is stable API. */
export class CryptoError extends BaseError<CryptoErrorCode> {}
