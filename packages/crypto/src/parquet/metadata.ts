import { CryptoError } from '../errors.ts'
import {
  binary,
  bool,
  encodeStruct,
  getField,
  listOf,
  optional,
  required,
  struct,
  type ThriftStruct,
  type ThriftValue,
  text,
} from './thrift-compact.ts'

// Field ids from apache/parquet-format src/main/thrift/parquet.thrift.
export const FILE_META_DATA = {
  schema: 2,
  numRows: 3,
  rowGroups: 4,
  createdBy: 6,
  columnOrders: 7,
  encryptionAlgorithm: 8,
  footerSigningKeyMetadata: 9,
} as const
export const SCHEMA_ELEMENT = { type: 1, name: 4, numChildren: 5 } as const
export const ROW_GROUP = { columns: 1, fileOffset: 5, totalCompressedSize: 6, ordinal: 7 } as const
export const COLUMN_CHUNK = {
  filePath: 1,
  fileOffset: 2,
  metaData: 3,
  offsetIndexOffset: 4,
  offsetIndexLength: 5,
  columnIndexOffset: 6,
  columnIndexLength: 7,
  cryptoMetadata: 8,
  encryptedColumnMetadata: 9,
} as const
export const COLUMN_META_DATA = {
  pathInSchema: 3,
  statistics: 12,
  encodingStats: 13,
  sizeStatistics: 16,
  geospatialStatistics: 17,
  totalCompressedSize: 7,
  dataPageOffset: 9,
  indexPageOffset: 10,
  dictionaryPageOffset: 11,
  bloomFilterOffset: 14,
  bloomFilterLength: 15,
} as const
export const PAGE_HEADER = { type: 1, compressedPageSize: 3, crc: 4 } as const
export const PAGE_TYPE = {
  DATA_PAGE: 0,
  INDEX_PAGE: 1,
  DICTIONARY_PAGE: 2,
  DATA_PAGE_V2: 3,
} as const

export const PHYSICAL_TYPES = [
  'BOOLEAN',
  'INT32',
  'INT64',
  'INT96',
  'FLOAT',
  'DOUBLE',
  'BYTE_ARRAY',
  'FIXED_LEN_BYTE_ARRAY',
] as const

function malformed(message: string): never {
  throw new CryptoError('ERR_PARQUET_MALFORMED', message)
}

/** A non-negative i64 as a safe JS number. */
export function toOffset(value: bigint, what: string): number {
  if (value < 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) malformed(`${what} is out of range`)
  return Number(value)
}

/** The encryption algorithm union (AesGcmV1 / AesGcmCtrV1). */
export type EncryptionAlgorithm = {
  name: 'AES_GCM_V1' | 'AES_GCM_CTR_V1'
  aadPrefix?: Uint8Array
  aadFileUnique?: Uint8Array
  supplyAadPrefix: boolean
}

export function readEncryptionAlgorithm(v: ThriftValue): EncryptionAlgorithm {
  if (v.type !== 'struct' || v.value.fields.length !== 1) {
    malformed('EncryptionAlgorithm is not a union with one member')
  }
  const member = v.value.fields[0] as { id: number; value: ThriftValue }
  if (member.value.type !== 'struct' || (member.id !== 1 && member.id !== 2)) {
    throw new CryptoError(
      'ERR_PARQUET_UNSUPPORTED',
      `Unknown Parquet encryption algorithm (union member ${member.id})`,
    )
  }
  const s = member.value.value
  const aadPrefix = optional(s, 1, 'binary', 'aad_prefix')?.value
  const aadFileUnique = optional(s, 2, 'binary', 'aad_file_unique')?.value
  return {
    name: member.id === 1 ? 'AES_GCM_V1' : 'AES_GCM_CTR_V1',
    ...(aadPrefix === undefined ? {} : { aadPrefix }),
    ...(aadFileUnique === undefined ? {} : { aadFileUnique }),
    supplyAadPrefix: optional(s, 3, 'bool', 'supply_aad_prefix')?.value ?? false,
  }
}

export type FileCryptoMetaData = { algorithm: EncryptionAlgorithm; keyMetadata?: Uint8Array }

export function readFileCryptoMetaData(s: ThriftStruct): FileCryptoMetaData {
  const algorithm = readEncryptionAlgorithm(required(s, 1, 'struct', 'encryption_algorithm'))
  const keyMetadata = optional(s, 2, 'binary', 'key_metadata')?.value
  return keyMetadata === undefined ? { algorithm } : { algorithm, keyMetadata }
}

/** The EncryptionAlgorithm union, as {@link readEncryptionAlgorithm} reads it. */
export function encodeEncryptionAlgorithm(algorithm: EncryptionAlgorithm): ThriftValue {
  const fields: [number, ThriftValue][] = []
  if (algorithm.aadPrefix !== undefined) fields.push([1, binary(algorithm.aadPrefix)])
  if (algorithm.aadFileUnique !== undefined) fields.push([2, binary(algorithm.aadFileUnique)])
  if (algorithm.supplyAadPrefix) fields.push([3, bool(true)])
  return struct([algorithm.name === 'AES_GCM_V1' ? 1 : 2, struct(...fields)])
}

/** FileCryptoMetaData { encryption_algorithm, key_metadata? }, serialized. */
export function encodeFileCryptoMetaData(
  algorithm: EncryptionAlgorithm,
  keyMetadata?: Uint8Array,
): Uint8Array {
  return encodeStruct({
    fields: [
      { id: 1, value: encodeEncryptionAlgorithm(algorithm) },
      ...(keyMetadata === undefined ? [] : [{ id: 2, value: binary(keyMetadata) }]),
    ],
  })
}

export type ColumnCryptoMetaData =
  | { kind: 'footer-key' }
  | { kind: 'column-key'; pathInSchema: string[]; keyMetadata?: Uint8Array }

export function readColumnCryptoMetaData(chunk: ThriftStruct): ColumnCryptoMetaData | undefined {
  const v = optional(chunk, COLUMN_CHUNK.cryptoMetadata, 'struct', 'crypto_metadata')
  if (v === undefined) return undefined
  const [member, ...rest] = v.value.fields
  if (member === undefined || rest.length > 0 || member.value.type !== 'struct') {
    malformed('ColumnCryptoMetaData is not a union with one member')
  }
  if (member.id === 1) return { kind: 'footer-key' }
  if (member.id !== 2) malformed(`Unknown ColumnCryptoMetaData member ${member.id}`)
  const s = member.value.value
  const pathInSchema = (listOf(s, 1, 'binary', 'path_in_schema') ?? []).map(text)
  const keyMetadata = optional(s, 2, 'binary', 'key_metadata')?.value
  return keyMetadata === undefined
    ? { kind: 'column-key', pathInSchema }
    : { kind: 'column-key', pathInSchema, keyMetadata }
}

/** ColumnCryptoMetaData, as {@link readColumnCryptoMetaData} reads it. */
export function encodeColumnCryptoMetaData(crypto: ColumnCryptoMetaData): ThriftValue {
  if (crypto.kind === 'footer-key') return struct([1, struct()])
  const path: ThriftValue = {
    type: 'list',
    elementType: 'binary',
    value: crypto.pathInSchema.map((p) => binary(new TextEncoder().encode(p))),
  }
  return struct([
    2,
    struct(
      [1, path],
      ...(crypto.keyMetadata === undefined
        ? []
        : [[2, binary(crypto.keyMetadata)] as [number, ThriftValue]]),
    ),
  ])
}

export function rowGroupsOf(fileMetaData: ThriftStruct): ThriftStruct[] {
  return (
    listOf(fileMetaData, FILE_META_DATA.rowGroups, 'struct', 'row_groups')?.map((v) => v.value) ??
    []
  )
}

export function columnChunksOf(rowGroup: ThriftStruct): ThriftStruct[] {
  const list = listOf(rowGroup, ROW_GROUP.columns, 'struct', 'RowGroup.columns')
  if (list === undefined) malformed('RowGroup.columns is missing')
  return list.map((v) => v.value)
}

/** Where a column chunk's pages are: Arrow's rule (dictionary page first when it precedes data). */
export function chunkRange(meta: ThriftStruct): {
  start: number
  length: number
  dictionaryFirst: boolean
} {
  const data = toOffset(
    required(meta, COLUMN_META_DATA.dataPageOffset, 'i64', 'data_page_offset').value,
    'data_page_offset',
  )
  const dictField = optional(
    meta,
    COLUMN_META_DATA.dictionaryPageOffset,
    'i64',
    'dictionary_page_offset',
  )
  const dict =
    dictField === undefined ? undefined : toOffset(dictField.value, 'dictionary_page_offset')
  const dictionaryFirst = dict !== undefined && dict > 0 && dict < data
  const length = toOffset(
    required(meta, COLUMN_META_DATA.totalCompressedSize, 'i64', 'total_compressed_size').value,
    'total_compressed_size',
  )
  return { start: dictionaryFirst ? (dict as number) : data, length, dictionaryFirst }
}

export type PageHeaderInfo = { type: number; compressedPageSize: number }

export function readPageHeader(header: ThriftStruct): PageHeaderInfo {
  const type = required(header, PAGE_HEADER.type, 'i32', 'PageHeader.type').value
  const size = required(header, PAGE_HEADER.compressedPageSize, 'i32', 'compressed_page_size').value
  if (size < 0) malformed('compressed_page_size is negative')
  return { type, compressedPageSize: size }
}

export type ColumnInfo = { path: string[]; physicalType: string }

/** Leaf columns of the schema, in order, with their paths. */
export function schemaColumns(fileMetaData: ThriftStruct): ColumnInfo[] {
  const schema = (listOf(fileMetaData, FILE_META_DATA.schema, 'struct', 'schema') ?? []).map(
    (v) => v.value,
  )
  const out: ColumnInfo[] = []
  let next = 0
  const walk = (prefix: string[], depth: number): void => {
    const element = schema[next++]
    if (element === undefined) malformed('schema ends inside a group')
    if (depth > 64) malformed('schema nests too deep')
    const name = text(required(element, SCHEMA_ELEMENT.name, 'binary', 'SchemaElement.name'))
    const path = depth === 0 ? [] : [...prefix, name]
    const children = optional(element, SCHEMA_ELEMENT.numChildren, 'i32', 'num_children')?.value
    const type = optional(element, SCHEMA_ELEMENT.type, 'i32', 'SchemaElement.type')?.value
    if (children === undefined || (type !== undefined && depth > 0)) {
      if (depth === 0) return
      out.push({ path, physicalType: PHYSICAL_TYPES[type ?? -1] ?? `TYPE_${type}` })
      return
    }
    if (children < 0 || children > schema.length) malformed('num_children out of range')
    for (let i = 0; i < children; i++) walk(path, depth + 1)
  }
  if (schema.length > 0) walk([], 0)
  return out
}

export function createdBy(fileMetaData: ThriftStruct): string | undefined {
  const v = getField(fileMetaData, FILE_META_DATA.createdBy)
  return v?.type === 'binary' ? text(v) : undefined
}

export function numRows(fileMetaData: ThriftStruct): number {
  return toOffset(
    required(fileMetaData, FILE_META_DATA.numRows, 'i64', 'num_rows').value,
    'num_rows',
  )
}
