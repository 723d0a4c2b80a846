import { CryptoError } from '../../errors.ts'

/**
 * A generic, lossless representation of Thrift Compact Protocol data: every field keeps its id,
 * wire type and value (unknown fields included), so a structure can be decoded, edited and
 * re-encoded without a schema.
 */
export type ThriftType =
  | 'bool'
  | 'i8'
  | 'i16'
  | 'i32'
  | 'i64'
  | 'double'
  | 'binary'
  | 'list'
  | 'set'
  | 'map'
  | 'struct'

export type ThriftValue =
  | { type: 'bool'; value: boolean }
  | { type: 'i8'; value: number }
  | { type: 'i16'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'i64'; value: bigint }
  | { type: 'double'; value: number }
  | { type: 'binary'; value: Uint8Array }
  | { type: 'list'; elementType: ThriftType; value: ThriftValue[] }
  | { type: 'set'; elementType: ThriftType; value: ThriftValue[] }
  | { type: 'map'; keyType: ThriftType; valueType: ThriftType; value: [ThriftValue, ThriftValue][] }
  | { type: 'struct'; value: ThriftStruct }

export type ThriftField = { id: number; value: ThriftValue }
/** Fields in wire order. */
export type ThriftStruct = { fields: ThriftField[] }

/** Nesting limit for structs and collections; Parquet metadata nests about 6 deep. */
export const MAX_THRIFT_DEPTH = 64

export const CODES: readonly (ThriftType | undefined)[] = [
  undefined, // 0 stop
  'bool', // 1 BOOLEAN_TRUE
  'bool', // 2 BOOLEAN_FALSE
  'i8',
  'i16',
  'i32',
  'i64',
  'double',
  'binary',
  'list',
  'set',
  'map',
  'struct',
]
export const TYPE_CODES: Readonly<Record<ThriftType, number>> = {
  bool: 1,
  i8: 3,
  i16: 4,
  i32: 5,
  i64: 6,
  double: 7,
  binary: 8,
  list: 9,
  set: 10,
  map: 11,
  struct: 12,
}

export function malformed(why: string, reason = 'invalid'): never {
  throw new CryptoError('ERR_PARQUET_MALFORMED', `Invalid Thrift compact data: ${why}`, {
    details: { reason },
  })
}
