import { concatBytes, equalBytes } from '@subrosa/core'
import { gcmCipher } from '../aead.ts'
import { CryptoError } from '../errors.ts'
import { type ByteSource, readExact } from './byte-io.ts'
import {
  FILE_META_DATA,
  type FileCryptoMetaData,
  readEncryptionAlgorithm,
  readFileCryptoMetaData,
} from './metadata.ts'
import { decryptModuleBody, MODULE_TYPE, moduleAad, moduleLength } from './modules.ts'
import { decodeStruct, getField, type ThriftStruct } from './thrift-compact.ts'

export const PAR1 = new Uint8Array([0x50, 0x41, 0x52, 0x31])
export const PARE = new Uint8Array([0x50, 0x41, 0x52, 0x45])
const TAIL = 8

/** Retrieves the footer key from FileCryptoMetaData.key_metadata (what the writer stored). */
export type KeyRetriever = (keyMetadata: Uint8Array | undefined) => Uint8Array | Promise<Uint8Array>

export type ParquetTail = {
  magic: 'PAR1' | 'PARE'
  /** Offset of the footer region (FileMetaData, or FileCryptoMetaData + encrypted footer). */
  footerStart: number
  footerLength: number
}

function magicOf(bytes: Uint8Array): 'PAR1' | 'PARE' | undefined {
  if (equalBytes(bytes, PAR1)) return 'PAR1'
  if (equalBytes(bytes, PARE)) return 'PARE'
  return undefined
}

/**
 * Locate the footer from the magic bytes and the 4-byte footer length.
 *
 * @throws CryptoError `ERR_PARQUET_TRUNCATED`, `ERR_PARQUET_MALFORMED`.
 */
export async function readTail(source: ByteSource): Promise<ParquetTail> {
  if (source.size < 4 + TAIL) {
    throw new CryptoError('ERR_PARQUET_TRUNCATED', `${source.size} bytes is too small for Parquet`)
  }
  const head = magicOf(await readExact(source, 0, 4))
  if (head === undefined) {
    throw new CryptoError('ERR_PARQUET_MALFORMED', 'Not a Parquet file: no PAR1/PARE magic')
  }
  const tail = await readExact(source, source.size - TAIL, TAIL)
  const end = magicOf(tail.subarray(4))
  if (end === undefined) {
    throw new CryptoError(
      'ERR_PARQUET_TRUNCATED',
      `The file starts with ${head} but does not end with it: truncated`,
    )
  }
  if (end !== head) {
    throw new CryptoError(
      'ERR_PARQUET_MALFORMED',
      `The file starts with ${head} but ends with ${end}`,
    )
  }
  const footerLength = moduleLength(tail)
  if (footerLength === 0 || footerLength > source.size - 4 - TAIL) {
    throw new CryptoError(
      'ERR_PARQUET_MALFORMED',
      `Footer length ${footerLength} does not fit the file`,
    )
  }
  return { magic: head, footerStart: source.size - TAIL - footerLength, footerLength }
}

/**
 * The FileMetaData of a plaintext (PAR1) file.
 *
 * @throws CryptoError `ERR_PARQUET_ALREADY_ENCRYPTED` for PARE files or PAR1 files in plaintext
 * footer mode, `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`.
 */
export async function readPlaintextFooter(
  source: ByteSource,
): Promise<{ tail: ParquetTail; fileMetaData: ThriftStruct }> {
  const tail = await readTail(source)
  if (tail.magic === 'PARE') {
    throw new CryptoError('ERR_PARQUET_ALREADY_ENCRYPTED', 'The file is already encrypted (PARE)')
  }
  const fileMetaData = decodeFooter(await readExact(source, tail.footerStart, tail.footerLength))
  if (getField(fileMetaData, FILE_META_DATA.encryptionAlgorithm) !== undefined) {
    throw new CryptoError(
      'ERR_PARQUET_ALREADY_ENCRYPTED',
      'The file is already encrypted (plaintext footer mode)',
    )
  }
  return { tail, fileMetaData }
}

/**
 * FileMetaData. Trailing bytes are tolerated as parquet-java and Arrow do: parquet-mr 1.17 pads
 * its encrypted footer plaintext with zeros (seen in parquet-testing's aes256 files).
 */
function decodeFooter(bytes: Uint8Array): ThriftStruct {
  return decodeStruct(bytes).value
}

export type EncryptedFooter = {
  tail: ParquetTail
  crypto: FileCryptoMetaData
  fileMetaData: ThriftStruct
  /** aad_prefix || aad_file_unique */
  fileAad: Uint8Array
  key: Uint8Array
}

/** The AAD prefix to use, following parquet-java's rules for stored and supplied prefixes. */
function aadPrefixFor(crypto: FileCryptoMetaData, supplied: Uint8Array | undefined): Uint8Array {
  const { aadPrefix: stored, supplyAadPrefix } = crypto.algorithm
  if (stored !== undefined) {
    if (supplied !== undefined && !equalBytes(supplied, stored)) {
      throw new CryptoError(
        'ERR_PARQUET_AAD_PREFIX',
        'The supplied AAD prefix differs from the stored one',
      )
    }
    return stored
  }
  if (supplyAadPrefix) {
    if (supplied === undefined) {
      throw new CryptoError(
        'ERR_PARQUET_AAD_PREFIX',
        'The file needs an AAD prefix: supply aadPrefix',
      )
    }
    return supplied
  }
  if (supplied !== undefined) {
    throw new CryptoError(
      'ERR_PARQUET_AAD_PREFIX',
      'An AAD prefix was supplied but the file uses none',
    )
  }
  return new Uint8Array(0)
}

/**
 * Parse FileCryptoMetaData of an encrypted-footer file; the plaintext-footer and CTR cases are
 * refused (`ERR_PARQUET_UNSUPPORTED`), plaintext files too (`ERR_PARQUET_NOT_ENCRYPTED`).
 */
export async function readFileCrypto(source: ByteSource): Promise<{
  tail: ParquetTail
  crypto: FileCryptoMetaData
  region: Uint8Array
  cryptoEnd: number
}> {
  const tail = await readTail(source)
  const region = await readExact(source, tail.footerStart, tail.footerLength)
  if (tail.magic === 'PAR1') {
    const algorithm = getField(decodeFooter(region), FILE_META_DATA.encryptionAlgorithm)
    if (algorithm === undefined) {
      throw new CryptoError('ERR_PARQUET_NOT_ENCRYPTED', 'The file is plaintext Parquet (PAR1)')
    }
    const name = readEncryptionAlgorithm(algorithm).name
    throw new CryptoError(
      'ERR_PARQUET_UNSUPPORTED',
      `Plaintext footer mode (${name}) is not supported yet; only encrypted footers are`,
    )
  }
  const { value, end } = decodeStruct(region)
  const crypto = readFileCryptoMetaData(value)
  if (crypto.algorithm.name !== 'AES_GCM_V1') {
    throw new CryptoError(
      'ERR_PARQUET_UNSUPPORTED',
      `${crypto.algorithm.name} is not supported yet; only AES_GCM_V1 is`,
    )
  }
  return { tail, crypto, region, cryptoEnd: end }
}

/**
 * Read and authenticate the encrypted footer of a uniform AES_GCM_V1 file.
 *
 * @throws CryptoError `ERR_PARQUET_NOT_ENCRYPTED`, `ERR_PARQUET_UNSUPPORTED`,
 * `ERR_PARQUET_AAD_PREFIX`, `ERR_CRYPTO_KEY_LENGTH`, `ERR_PARQUET_FOOTER_AUTH`,
 * `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`, and what `keyRetriever` throws.
 */
export async function openEncryptedFooter(
  source: ByteSource,
  keyRetriever: KeyRetriever,
  aadPrefix?: Uint8Array,
): Promise<EncryptedFooter> {
  const { tail, crypto, region, cryptoEnd } = await readFileCrypto(source)
  const fileAad = concatBytes(
    aadPrefixFor(crypto, aadPrefix),
    crypto.algorithm.aadFileUnique ?? new Uint8Array(0),
  )
  const module = region.subarray(cryptoEnd)
  if (module.length < 4 || moduleLength(module) !== module.length - 4) {
    throw new CryptoError('ERR_PARQUET_MALFORMED', 'The encrypted footer module length is wrong')
  }
  const key = await keyRetriever(crypto.keyMetadata)
  gcmCipher(key, 'footer key')
  const plain = decryptModuleBody(key, module.subarray(4), moduleAad(fileAad, MODULE_TYPE.FOOTER))
  if (plain === undefined) {
    throw new CryptoError(
      'ERR_PARQUET_FOOTER_AUTH',
      'The footer failed authentication: wrong footer key, wrong AAD prefix, or tampered footer',
    )
  }
  return { tail, crypto, fileMetaData: decodeFooter(plain), fileAad, key }
}
