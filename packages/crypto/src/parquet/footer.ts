import { timingSafeEqual } from 'node:crypto'
import { concatBytes, equalBytes } from '@subrosa/core'
import { gcmCipher, gcmSeal, NONCE_LENGTH, TAG_LENGTH } from '../aead.ts'
import { CryptoError } from '../errors.ts'
import { type ByteSource, readExact } from './byte-io.ts'
import {
  type EncryptionAlgorithm,
  FILE_META_DATA,
  type FileCryptoMetaData,
  readEncryptionAlgorithm,
  readFileCryptoMetaData,
} from './metadata.ts'
import { decryptModuleBody, MODULE_TYPE, moduleAad, moduleLength } from './modules.ts'
import { decodeStruct, getField, optional, type ThriftStruct } from './thrift-compact.ts'

export const PAR1 = new Uint8Array([0x50, 0x41, 0x52, 0x31])
export const PARE = new Uint8Array([0x50, 0x41, 0x52, 0x45])
const TAIL = 8

/** Which key a {@link KeyRetriever} is asked for. */
export type KeyTarget =
  | { readonly kind: 'footer' }
  | { readonly kind: 'column'; readonly path: readonly string[] }

/**
 * Returns the key for a footer or column from the key_metadata the writer stored (a key id, or
 * PKMT1 key material). `undefined` means "not available to this reader": fatal for the footer,
 * and for a column an error or the column dropped, as the caller chooses.
 */
export type KeyRetriever = (
  keyMetadata: Uint8Array | undefined,
  target: KeyTarget,
) => Uint8Array | undefined | Promise<Uint8Array | undefined>

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

/** The AAD prefix to use, following parquet-java's rules for stored and supplied prefixes. */
export function aadPrefixFor(
  crypto: Pick<FileCryptoMetaData, 'algorithm'>,
  supplied: Uint8Array | undefined,
): Uint8Array {
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

/** An encrypted Parquet file, its footer authenticated and parsed. */
export type OpenedParquet = {
  readonly tail: ParquetTail
  /** `encrypted-footer`: PARE; `plaintext-footer`: PAR1 with a signed FileMetaData. */
  readonly mode: 'encrypted-footer' | 'plaintext-footer'
  readonly algorithm: EncryptionAlgorithm
  readonly footerKeyMetadata?: Uint8Array
  readonly fileMetaData: ThriftStruct
  /** aad_prefix || aad_file_unique */
  readonly fileAad: Uint8Array
  readonly footerKey: Uint8Array
}

/** The 28-byte plaintext-footer signature: nonce(12) || GCM tag(16). */
export const FOOTER_SIGNATURE_LENGTH = 28

async function footerKeyOf(retriever: KeyRetriever, metadata: Uint8Array | undefined) {
  const key = await retriever(metadata, { kind: 'footer' })
  if (key === undefined) {
    throw new CryptoError('ERR_PARQUET_KEY_UNAVAILABLE', 'No footer key is available for this file')
  }
  gcmCipher(key, 'footer key')
  return key
}

/**
 * Open an encrypted Parquet file: read the tail, then either decrypt the encrypted footer (PARE)
 * or verify the signature of the plaintext footer (PAR1 with `encryption_algorithm`), with the
 * footer key the retriever returns.
 *
 * @throws CryptoError `ERR_PARQUET_NOT_ENCRYPTED` (plain PAR1), `ERR_PARQUET_FOOTER_AUTH` (wrong
 * key, wrong AAD prefix, tampered footer or signature), `ERR_PARQUET_KEY_UNAVAILABLE`,
 * `ERR_PARQUET_AAD_PREFIX`, `ERR_PARQUET_UNSUPPORTED`, `ERR_CRYPTO_KEY_LENGTH`,
 * `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`, and what `keyRetriever` throws.
 */
export async function openParquet(
  source: ByteSource,
  keyRetriever: KeyRetriever,
  aadPrefix?: Uint8Array,
): Promise<OpenedParquet> {
  const tail = await readTail(source)
  const region = await readExact(source, tail.footerStart, tail.footerLength)
  if (tail.magic === 'PAR1') return openSignedFooter(tail, region, keyRetriever, aadPrefix)
  const { value, end } = decodeStruct(region)
  const crypto = readFileCryptoMetaData(value)
  const fileAad = concatBytes(
    aadPrefixFor(crypto, aadPrefix),
    crypto.algorithm.aadFileUnique ?? new Uint8Array(0),
  )
  const module = region.subarray(end)
  if (module.length < 4 || moduleLength(module) !== module.length - 4) {
    throw new CryptoError('ERR_PARQUET_MALFORMED', 'The encrypted footer module length is wrong')
  }
  const key = await footerKeyOf(keyRetriever, crypto.keyMetadata)
  const plain = decryptModuleBody(key, module.subarray(4), moduleAad(fileAad, MODULE_TYPE.FOOTER))
  if (plain === undefined) {
    throw new CryptoError(
      'ERR_PARQUET_FOOTER_AUTH',
      'The footer failed authentication: wrong footer key, wrong AAD prefix, or tampered footer',
    )
  }
  return {
    tail,
    mode: 'encrypted-footer',
    algorithm: crypto.algorithm,
    ...(crypto.keyMetadata === undefined ? {} : { footerKeyMetadata: crypto.keyMetadata }),
    fileMetaData: decodeFooter(plain),
    fileAad,
    footerKey: key,
  }
}

async function openSignedFooter(
  tail: ParquetTail,
  region: Uint8Array,
  keyRetriever: KeyRetriever,
  aadPrefix: Uint8Array | undefined,
): Promise<OpenedParquet> {
  if (region.length <= FOOTER_SIGNATURE_LENGTH) {
    const algorithm = getField(decodeFooter(region), FILE_META_DATA.encryptionAlgorithm)
    if (algorithm === undefined) {
      throw new CryptoError('ERR_PARQUET_NOT_ENCRYPTED', 'The file is plaintext Parquet (PAR1)')
    }
    throw new CryptoError(
      'ERR_PARQUET_MALFORMED',
      'The plaintext footer has no room for its signature',
    )
  }
  const { value: fileMetaData, end } = decodeStruct(region)
  const algorithmField = getField(fileMetaData, FILE_META_DATA.encryptionAlgorithm)
  if (algorithmField === undefined) {
    throw new CryptoError('ERR_PARQUET_NOT_ENCRYPTED', 'The file is plaintext Parquet (PAR1)')
  }
  const signed = region.subarray(0, region.length - FOOTER_SIGNATURE_LENGTH)
  if (end !== signed.length) {
    throw new CryptoError(
      'ERR_PARQUET_MALFORMED',
      'The plaintext footer is not followed by exactly its 28-byte signature',
    )
  }
  const algorithm = readEncryptionAlgorithm(algorithmField)
  const fileAad = concatBytes(
    aadPrefixFor({ algorithm }, aadPrefix),
    algorithm.aadFileUnique ?? new Uint8Array(0),
  )
  const signingKeyMetadata = optional(
    fileMetaData,
    FILE_META_DATA.footerSigningKeyMetadata,
    'binary',
    'footer_signing_key_metadata',
  )?.value
  const key = await footerKeyOf(keyRetriever, signingKeyMetadata)
  const signature = region.subarray(signed.length)
  const expected = gcmSeal(
    key,
    signature.subarray(0, NONCE_LENGTH),
    signed,
    moduleAad(fileAad, MODULE_TYPE.FOOTER),
  )
  const tag = expected.subarray(expected.length - TAG_LENGTH)
  if (!timingSafeEqual(tag, signature.subarray(NONCE_LENGTH))) {
    throw new CryptoError(
      'ERR_PARQUET_FOOTER_AUTH',
      'The plaintext footer signature does not verify: wrong footer key, wrong AAD prefix, or tampered footer',
    )
  }
  return {
    tail,
    mode: 'plaintext-footer',
    algorithm,
    ...(signingKeyMetadata === undefined ? {} : { footerKeyMetadata: signingKeyMetadata }),
    fileMetaData,
    fileAad,
    footerKey: key,
  }
}

/** The signature of a plaintext footer: nonce || tag of GCM over the serialized FileMetaData. */
export function signFooter(
  key: Uint8Array,
  serialized: Uint8Array,
  fileAad: Uint8Array,
  nonce: Uint8Array,
): Uint8Array {
  const sealed = gcmSeal(key, nonce, serialized, moduleAad(fileAad, MODULE_TYPE.FOOTER))
  return concatBytes(nonce, sealed.subarray(sealed.length - TAG_LENGTH))
}
