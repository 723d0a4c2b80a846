import { type ByteSource, readExact } from './byte-io.ts'
import { type KeyRetriever, openParquet, readTail } from './footer.ts'
import { parseKeyMaterial } from './key-material.ts'
import {
  type ColumnInfo,
  columnChunksOf,
  createdBy,
  FILE_META_DATA,
  type FileCryptoMetaData,
  numRows,
  readColumnCryptoMetaData,
  readEncryptionAlgorithm,
  readFileCryptoMetaData,
  rowGroupsOf,
  schemaColumns,
} from './metadata.ts'
import { decodeStruct, getField, optional, type ThriftStruct } from './thrift-compact.ts'

export type ParquetFooterInfo = {
  encrypted: boolean
  numRows: number
  rowGroups: number
  columns: ColumnInfo[]
  createdBy?: string
  /** FileCryptoMetaData.key_metadata of an encrypted file. */
  footerKeyMetadata?: Uint8Array
  /** How each leaf column is encrypted (from the first row group); key metadata summarized. */
  columnEncryption: ColumnEncryption[]
}

/** One column's encryption, as the footer says it; never key bytes. */
export type ColumnEncryption = {
  path: string[]
  encryption: 'plaintext' | 'footer-key' | 'column-key'
  keyMetadata?: KeyMetadataSummary
}

function columnEncryptionOf(fileMetaData: ThriftStruct): ColumnEncryption[] {
  const [first] = rowGroupsOf(fileMetaData)
  if (first === undefined) return []
  const leaves = schemaColumns(fileMetaData)
  return columnChunksOf(first).map((chunk, i) => {
    const crypto = readColumnCryptoMetaData(chunk)
    const path = leaves[i]?.path ?? (crypto?.kind === 'column-key' ? crypto.pathInSchema : [])
    if (crypto === undefined) return { path, encryption: 'plaintext' }
    if (crypto.kind === 'footer-key') return { path, encryption: 'footer-key' }
    return {
      path,
      encryption: 'column-key',
      ...(crypto.keyMetadata === undefined
        ? {}
        : { keyMetadata: describeKeyMetadata(crypto.keyMetadata) }),
    }
  })
}

function summarize(
  fileMetaData: ThriftStruct,
): Omit<ParquetFooterInfo, 'encrypted' | 'columnEncryption'> {
  const by = createdBy(fileMetaData)
  return {
    numRows: numRows(fileMetaData),
    rowGroups: rowGroupsOf(fileMetaData).length,
    columns: schemaColumns(fileMetaData),
    ...(by === undefined ? {} : { createdBy: by }),
  }
}

/**
 * The footer facts of a Parquet file: rows, row groups, leaf columns. Encrypted footers are
 * authenticated with the key `keyRetriever` returns; plaintext files need no key.
 *
 * @example const { numRows, columns } = await readParquetFooter(source, { keyRetriever: () => key })
 * @throws CryptoError as the footer part of `decryptParquet`: `ERR_PARQUET_FOOTER_AUTH`,
 * `ERR_PARQUET_UNSUPPORTED`, `ERR_PARQUET_AAD_PREFIX`, `ERR_PARQUET_MALFORMED`, ...
 */
export async function readParquetFooter(
  source: ByteSource,
  options: { keyRetriever: KeyRetriever; aadPrefix?: Uint8Array },
): Promise<ParquetFooterInfo> {
  const tail = await readTail(source)
  if (tail.magic === 'PAR1') {
    const fileMetaData = decodeStruct(
      await readExact(source, tail.footerStart, tail.footerLength),
    ).value
    if (getField(fileMetaData, FILE_META_DATA.encryptionAlgorithm) === undefined) {
      return { encrypted: false, ...summarize(fileMetaData), columnEncryption: [] }
    }
  }
  const opened = await openParquet(source, options.keyRetriever, options.aadPrefix)
  return {
    encrypted: true,
    ...summarize(opened.fileMetaData),
    ...(opened.footerKeyMetadata === undefined
      ? {}
      : { footerKeyMetadata: opened.footerKeyMetadata }),
    columnEncryption: columnEncryptionOf(opened.fileMetaData),
  }
}

/** What key_metadata says, without unwrapping anything (wrapped keys are left out). */
export type KeyMetadataSummary = {
  length: number
  /** PKMT1 key material (internal storage or a reference to external material). */
  pkmt1?:
    | {
        masterKeyId: string
        kmsInstanceId?: string
        kmsInstanceUrl?: string
        doubleWrapping: boolean
        internalStorage: boolean
      }
    | { keyReference: string }
  /** A short printable key id (parquet-testing writes "kf"). */
  keyId?: string
}

export type ParquetInspection = {
  fileSize: number
  magic: 'PAR1' | 'PARE'
  encrypted: boolean
  footer: 'plaintext' | 'encrypted' | 'signed-plaintext'
  footerLength: number
  algorithm?: 'AES_GCM_V1' | 'AES_GCM_CTR_V1'
  aadFileUniqueLength?: number
  aadPrefix?: 'none' | 'stored' | 'supplied-by-reader'
  footerKeyMetadata?: KeyMetadataSummary
  /** Only when the footer is readable without a key. */
  numRows?: number
  rowGroups?: number
  columns?: ColumnInfo[]
  createdBy?: string
  /** Only for a signed plaintext footer (an encrypted footer hides it). */
  columnEncryption?: ColumnEncryption[]
}

function describeKeyMetadata(bytes: Uint8Array): KeyMetadataSummary {
  try {
    const m = parseKeyMaterial(bytes)
    if (m.kind === 'reference')
      return { length: bytes.length, pkmt1: { keyReference: m.keyReference } }
    return {
      length: bytes.length,
      pkmt1: {
        masterKeyId: m.masterKeyId,
        ...(m.kmsInstanceId === undefined ? {} : { kmsInstanceId: m.kmsInstanceId }),
        ...(m.kmsInstanceUrl === undefined ? {} : { kmsInstanceUrl: m.kmsInstanceUrl }),
        doubleWrapping: m.doubleWrapping,
        internalStorage: m.internalStorage,
      },
    }
  } catch {
    const printable = bytes.length <= 64 && bytes.every((b) => b >= 0x20 && b < 0x7f)
    return printable
      ? { length: bytes.length, keyId: new TextDecoder().decode(bytes) }
      : { length: bytes.length }
  }
}

function algorithmFacts(crypto: Pick<FileCryptoMetaData, 'algorithm'>) {
  const a = crypto.algorithm
  return {
    algorithm: a.name,
    aadFileUniqueLength: a.aadFileUnique?.length ?? 0,
    aadPrefix:
      a.aadPrefix !== undefined
        ? ('stored' as const)
        : a.supplyAadPrefix
          ? ('supplied-by-reader' as const)
          : ('none' as const),
  }
}

/**
 * Key-less facts about a Parquet file for `subrosa parquet inspect`: magic, footer mode,
 * algorithm, AAD shape, footer key metadata (PKMT1 summary), and for plaintext footers the
 * row and column counts. Never needs or reveals a key.
 *
 * @example const info = await inspectParquet(source)
 * @throws CryptoError `ERR_PARQUET_MALFORMED`, `ERR_PARQUET_TRUNCATED`.
 */
export async function inspectParquet(source: ByteSource): Promise<ParquetInspection> {
  const tail = await readTail(source)
  const region = await readExact(source, tail.footerStart, tail.footerLength)
  const base = { fileSize: source.size, magic: tail.magic, footerLength: tail.footerLength }
  if (tail.magic === 'PARE') {
    const crypto = readFileCryptoMetaData(decodeStruct(region).value)
    return {
      ...base,
      encrypted: true,
      footer: 'encrypted',
      ...algorithmFacts(crypto),
      ...(crypto.keyMetadata === undefined
        ? {}
        : { footerKeyMetadata: describeKeyMetadata(crypto.keyMetadata) }),
    }
  }
  const fileMetaData = decodeStruct(region).value
  const algorithm = getField(fileMetaData, FILE_META_DATA.encryptionAlgorithm)
  if (algorithm === undefined) {
    return { ...base, encrypted: false, footer: 'plaintext', ...summarize(fileMetaData) }
  }
  // A signed plaintext footer shows its column encryption without a key.
  const columnEncryption = columnEncryptionOf(fileMetaData)
  const signing = optional(
    fileMetaData,
    FILE_META_DATA.footerSigningKeyMetadata,
    'binary',
    'footer_signing_key_metadata',
  )
  return {
    ...base,
    encrypted: true,
    footer: 'signed-plaintext',
    ...algorithmFacts({ algorithm: readEncryptionAlgorithm(algorithm) }),
    ...(signing === undefined ? {} : { footerKeyMetadata: describeKeyMetadata(signing.value) }),
    ...summarize(fileMetaData),
    columnEncryption,
  }
}
