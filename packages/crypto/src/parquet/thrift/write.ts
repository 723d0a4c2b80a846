import {
  MAX_THRIFT_DEPTH,
  malformed,
  type ThriftStruct,
  type ThriftValue,
  TYPE_CODES,
} from './types.ts'

type Out = { buf: Uint8Array; len: number }

function reserve(o: Out, n: number): void {
  if (o.len + n <= o.buf.length) return
  let size = o.buf.length * 2
  while (size < o.len + n) size *= 2
  const next = new Uint8Array(size)
  next.set(o.buf.subarray(0, o.len))
  o.buf = next
}

function byte(o: Out, b: number): void {
  reserve(o, 1)
  o.buf[o.len++] = b
}

function varint32(o: Out, n: number): void {
  reserve(o, 5)
  let v = n
  while (v >= 0x80) {
    o.buf[o.len++] = (v % 0x80) | 0x80
    v = Math.floor(v / 0x80)
  }
  o.buf[o.len++] = v
}

function varint64(o: Out, n: bigint): void {
  reserve(o, 10)
  let v = n
  while (v >= 0x80n) {
    o.buf[o.len++] = Number(v & 0x7fn) | 0x80
    v >>= 7n
  }
  o.buf[o.len++] = Number(v)
}

function integer(value: number, bits: 8 | 16 | 32): number {
  const limit = 2 ** (bits - 1)
  if (!Number.isInteger(value) || value < -limit || value >= limit) {
    malformed(`cannot encode ${value} as i${bits}`)
  }
  return value
}

function zigzag32(o: Out, value: number, bits: 16 | 32): void {
  const v = integer(value, bits)
  varint32(o, v >= 0 ? 2 * v : -2 * v - 1)
}

function writeValue(o: Out, v: ThriftValue, depth: number): void {
  switch (v.type) {
    case 'bool':
      byte(o, v.value ? 1 : 2)
      return
    case 'i8':
      byte(o, integer(v.value, 8) & 0xff)
      return
    case 'i16':
      zigzag32(o, v.value, 16)
      return
    case 'i32':
      zigzag32(o, v.value, 32)
      return
    case 'i64':
      if (v.value !== BigInt.asIntN(64, v.value)) malformed('i64 out of range')
      varint64(o, BigInt.asUintN(64, (v.value << 1n) ^ (v.value >> 63n)))
      return
    case 'double': {
      reserve(o, 8)
      new DataView(o.buf.buffer, o.buf.byteOffset + o.len, 8).setFloat64(0, v.value, true)
      o.len += 8
      return
    }
    case 'binary':
      varint32(o, v.value.length)
      reserve(o, v.value.length)
      o.buf.set(v.value, o.len)
      o.len += v.value.length
      return
    case 'list':
    case 'set': {
      if (depth >= MAX_THRIFT_DEPTH) malformed('nesting too deep')
      const code = TYPE_CODES[v.elementType]
      const size = v.value.length
      if (size < 15) byte(o, (size << 4) | code)
      else {
        byte(o, 0xf0 | code)
        varint32(o, size)
      }
      for (const e of v.value) {
        if (e.type !== v.elementType) malformed(`${e.type} element in a ${v.elementType} ${v.type}`)
        writeValue(o, e, depth + 1)
      }
      return
    }
    case 'map': {
      if (depth >= MAX_THRIFT_DEPTH) malformed('nesting too deep')
      varint32(o, v.value.length)
      if (v.value.length === 0) return
      byte(o, (TYPE_CODES[v.keyType] << 4) | TYPE_CODES[v.valueType])
      for (const [k, e] of v.value) {
        if (k.type !== v.keyType || e.type !== v.valueType) malformed('map entry of the wrong type')
        writeValue(o, k, depth + 1)
        writeValue(o, e, depth + 1)
      }
      return
    }
    case 'struct':
      if (depth >= MAX_THRIFT_DEPTH) malformed('nesting too deep')
      writeStruct(o, v.value, depth + 1)
      return
  }
}

function writeStruct(o: Out, s: ThriftStruct, depth: number): void {
  let lastId = 0
  for (const { id, value } of s.fields) {
    integer(id, 16)
    const code = value.type === 'bool' ? (value.value ? 1 : 2) : TYPE_CODES[value.type]
    const delta = id - lastId
    if (delta > 0 && delta <= 15) byte(o, (delta << 4) | code)
    else {
      byte(o, code)
      zigzag32(o, id, 16)
    }
    lastId = id
    if (value.type !== 'bool') writeValue(o, value, depth)
  }
  byte(o, 0)
}

/**
 * Encode a struct with the Thrift Compact Protocol (fields in the given order).
 *
 * @throws CryptoError `ERR_PARQUET_MALFORMED` for values their wire type cannot carry.
 */
export function encodeStruct(struct: ThriftStruct): Uint8Array {
  const o: Out = { buf: new Uint8Array(256), len: 0 }
  writeStruct(o, struct, 0)
  return o.buf.slice(0, o.len)
}
