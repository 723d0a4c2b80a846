/**
 * Thrift Compact Protocol: a generic, lossless reader and writer and small field accessors.
 * Parquet metadata (FileMetaData, PageHeader, FileCryptoMetaData) is read and edited through it.
 */
export {
  binary,
  bool,
  getField,
  i16,
  i32,
  i64,
  listOf,
  optional,
  removeField,
  required,
  setField,
  struct,
  text,
} from './thrift/fields.ts'
export { decodeStruct, decodeStructExact, isThriftEof } from './thrift/read.ts'
export type { ThriftField, ThriftStruct, ThriftType, ThriftValue } from './thrift/types.ts'
export { MAX_THRIFT_DEPTH } from './thrift/types.ts'
export { encodeStruct } from './thrift/write.ts'
