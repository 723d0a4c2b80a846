import { CryptoError } from '../../errors.ts'
import {
  CODES,
  MAX_THRIFT_DEPTH,
  malformed,
  type ThriftField,
  type ThriftStruct,
  type ThriftType,
  type ThriftValue,
} from './types.ts'

/** True for the error thrown when Thrift data ends inside a structure (more bytes may help). */
export function isThriftEof(error: unknown): boolean {
  return error instanceof CryptoError && error.details?.reason === 'eof'
}

type Cursor = { bytes: Uint8Array; view: DataView; pos: number }

function need(c: Cursor, n: number): void {
  if (c.pos + n > c.bytes.length) malformed('data ends inside a structure', 'eof')
}

function u8(c: Cursor): number {
  need(c, 1)
  return c.bytes[c.pos++] as number
}

function varint32(c: Cursor): number {
  let result = 0
  for (let i = 0; i < 5; i++) {
    const b = u8(c)
    if (i === 4 && b > 0x0f) malformed('32-bit varint overflows')
    result += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return result
  }
  return malformed('32-bit varint longer than 5 bytes')
}

function varint64(c: Cursor): bigint {
  // The first 7 bytes (49 bits) add up exactly in a double; BigInt only for the rare longer ones.
  let low = 0
  for (let i = 0; i < 7; i++) {
    const b = u8(c)
    low += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) return BigInt(low)
  }
  let result = BigInt(low)
  for (let i = 7n; i < 10n; i++) {
    const b = u8(c)
    if (i === 9n && b > 0x01) malformed('64-bit varint overflows')
    result |= BigInt(b & 0x7f) << (7n * i)
    if ((b & 0x80) === 0) return result
  }
  return malformed('64-bit varint longer than 10 bytes')
}

function zigzag32(c: Cursor, bits: 16 | 32): number {
  const n = varint32(c)
  const v = n % 2 === 0 ? n / 2 : -(n + 1) / 2
  const limit = 2 ** (bits - 1)
  if (v < -limit || v >= limit) malformed(`i${bits} out of range`)
  return v
}

function typeOf(code: number): ThriftType {
  const t = CODES[code]
  if (t === undefined) malformed(`unknown compact type ${code}`)
  return t
}

function readValue(c: Cursor, type: ThriftType, depth: number, fieldBool?: boolean): ThriftValue {
  switch (type) {
    case 'bool': {
      if (fieldBool !== undefined) return { type, value: fieldBool }
      const b = u8(c)
      if (b > 2) malformed(`bool byte ${b}`)
      return { type, value: b === 1 }
    }
    case 'i8':
      need(c, 1)
      return { type, value: c.view.getInt8(c.pos++) }
    case 'i16':
      return { type, value: zigzag32(c, 16) }
    case 'i32':
      return { type, value: zigzag32(c, 32) }
    case 'i64': {
      const n = varint64(c)
      return { type, value: (n >> 1n) ^ -(n & 1n) }
    }
    case 'double': {
      need(c, 8)
      const value = c.view.getFloat64(c.pos, true)
      c.pos += 8
      return { type, value }
    }
    case 'binary': {
      const length = varint32(c)
      need(c, length)
      const value = c.bytes.slice(c.pos, c.pos + length)
      c.pos += length
      return { type, value }
    }
    case 'list':
    case 'set': {
      if (depth >= MAX_THRIFT_DEPTH) malformed('nesting too deep')
      const header = u8(c)
      const elementType = typeOf(header & 0x0f)
      const size = header >> 4 === 15 ? varint32(c) : header >> 4
      // Every element takes at least one byte: refuse sizes the data cannot hold.
      need(c, size)
      const value: ThriftValue[] = []
      for (let i = 0; i < size; i++) value.push(readValue(c, elementType, depth + 1))
      return { type, elementType, value }
    }
    case 'map': {
      if (depth >= MAX_THRIFT_DEPTH) malformed('nesting too deep')
      const size = varint32(c)
      if (size === 0) return { type, keyType: 'binary', valueType: 'binary', value: [] }
      const types = u8(c)
      const keyType = typeOf(types >> 4)
      const valueType = typeOf(types & 0x0f)
      need(c, 2 * size)
      const value: [ThriftValue, ThriftValue][] = []
      for (let i = 0; i < size; i++) {
        value.push([readValue(c, keyType, depth + 1), readValue(c, valueType, depth + 1)])
      }
      return { type, keyType, valueType, value }
    }
    case 'struct':
      if (depth >= MAX_THRIFT_DEPTH) malformed('nesting too deep')
      return { type, value: readStruct(c, depth + 1) }
  }
}

function readStruct(c: Cursor, depth: number): ThriftStruct {
  const fields: ThriftField[] = []
  let lastId = 0
  for (;;) {
    const header = u8(c)
    if (header === 0) return { fields }
    const code = header & 0x0f
    const delta = header >> 4
    const type = typeOf(code)
    const id = delta === 0 ? zigzag32(c, 16) : lastId + delta
    if (id > 32767) malformed('field id out of range')
    lastId = id
    fields.push({ id, value: readValue(c, type, depth, type === 'bool' ? code === 1 : undefined) })
  }
}

/**
 * Decode one struct starting at `offset`; returns it and the offset just past it.
 *
 * @throws CryptoError `ERR_PARQUET_MALFORMED` on invalid data (`details.reason` is `'eof'` when
 * the data ends inside the struct; see {@link isThriftEof}).
 */
export function decodeStruct(bytes: Uint8Array, offset = 0): { value: ThriftStruct; end: number } {
  const c: Cursor = {
    bytes,
    view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    pos: offset,
  }
  const value = readStruct(c, 0)
  return { value, end: c.pos }
}

/**
 * Decode bytes that must hold exactly one struct.
 *
 * @throws CryptoError `ERR_PARQUET_MALFORMED` on invalid data or trailing bytes.
 */
export function decodeStructExact(bytes: Uint8Array): ThriftStruct {
  const { value, end } = decodeStruct(bytes)
  if (end !== bytes.length) malformed(`${bytes.length - end} trailing bytes after the struct`)
  return value
}
