import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  binary,
  decodeStruct,
  decodeStructExact,
  encodeStruct,
  getField,
  i16,
  i32,
  i64,
  isThriftEof,
  MAX_THRIFT_DEPTH,
  removeField,
  required,
  setField,
  struct,
  type ThriftStruct,
  type ThriftValue,
} from './thrift-compact.ts'

const hex = (h: string) => new Uint8Array(Buffer.from(h.replaceAll(' ', ''), 'hex'))

/** A struct that uses every wire type, long-form field ids and a bool list. */
function everything(): ThriftStruct {
  return {
    fields: [
      { id: 1, value: { type: 'bool', value: true } },
      { id: 2, value: { type: 'bool', value: false } },
      { id: 3, value: { type: 'i8', value: -128 } },
      { id: 4, value: i16(-32768) },
      { id: 5, value: i32(2147483647) },
      { id: 6, value: i64(-(2n ** 63n)) },
      { id: 7, value: { type: 'double', value: -1.5e300 } },
      { id: 8, value: binary(new Uint8Array([0, 1, 2, 255])) },
      {
        id: 40,
        value: {
          type: 'list',
          elementType: 'bool',
          value: [
            { type: 'bool', value: true },
            { type: 'bool', value: false },
          ],
        },
      },
      {
        id: 41,
        value: {
          type: 'set',
          elementType: 'i64',
          value: Array.from({ length: 20 }, (_, i) => ({ type: 'i64', value: BigInt(i) ** 9n })),
        },
      },
      {
        id: 42,
        value: {
          type: 'map',
          keyType: 'binary',
          valueType: 'struct',
          value: [[binary(new Uint8Array([97])), struct([1, i32(-1)], [300, i64(2n ** 62n)])]],
        },
      },
      { id: 43, value: { type: 'map', keyType: 'binary', valueType: 'binary', value: [] } },
      { id: 3, value: i32(7) }, // ids going down use the long form
      { id: 32767, value: struct() },
    ],
  }
}

describe('thrift compact protocol', () => {
  it('round-trips every wire type losslessly', () => {
    const original = everything()
    const bytes = encodeStruct(original)
    const decoded = decodeStructExact(bytes)
    assert.deepEqual(decoded, original)
    assert.deepEqual(encodeStruct(decoded), bytes)
  })

  it('matches hand-encoded compact bytes', () => {
    // field 1 i32 = 3 (delta 1, type 5, zigzag 6); field 2 binary "hi"; field 20 (long form,
    // delta 18 > 15) bool true; field 21 list<i32> [1, -1]; stop.
    const bytes = hex('15 06 18 02 6869 01 28 19 25 02 01 00')
    const s = decodeStructExact(bytes)
    assert.deepEqual(
      s.fields.map((f) => [f.id, f.value.type]),
      [
        [1, 'i32'],
        [2, 'binary'],
        [20, 'bool'],
        [21, 'list'],
      ],
    )
    assert.equal(required(s, 1, 'i32', 'x').value, 3)
    assert.deepEqual(encodeStruct(s), bytes)
  })

  it('keeps unknown fields when editing', () => {
    const s = decodeStructExact(encodeStruct(everything()))
    setField(s, 5, i32(1))
    setField(s, 9, i64(9))
    removeField(s, 8)
    const again = decodeStructExact(encodeStruct(s))
    assert.deepEqual(getField(again, 5), i32(1))
    assert.deepEqual(getField(again, 9), i64(9))
    assert.equal(getField(again, 8), undefined)
    assert.deepEqual(getField(again, 42), getField(everything(), 42))
  })

  it('reports the end of data as eof and stops at the struct end', () => {
    const bytes = encodeStruct(everything())
    for (let cut = 0; cut < bytes.length; cut++) {
      assert.throws(
        () => decodeStruct(bytes.subarray(0, cut)),
        (e: unknown) => isThriftEof(e) && (e as { code?: string }).code === 'ERR_PARQUET_MALFORMED',
      )
    }
    const padded = new Uint8Array([...bytes, 0, 0, 0])
    assert.equal(decodeStruct(padded).end, bytes.length)
    assert.throws(() => decodeStructExact(padded), { code: 'ERR_PARQUET_MALFORMED' })
  })

  it('refuses malformed input with ERR_PARQUET_MALFORMED, never hangs', () => {
    const bad = [
      hex('0d'), // unknown type 13
      hex('1f'), // type 15
      hex('15 ffffffffff 00'), // varint too long for i32
      hex('15 8080808010 00'), // i32 overflow
      hex('14 feff07 00'), // i16 out of range
      hex('18 ffffffff0f'), // binary longer than the data
      hex('19 f5 ffffffff0f'), // list size larger than the data
      hex('1b ffffffff0f 55'), // map size larger than the data
      hex('16 ffffffffffffffffff7f 00'), // i64 varint overflow
      hex('19 21 03'), // bool list element 3
    ]
    for (const bytes of bad) {
      assert.throws(
        () => decodeStruct(bytes),
        { code: 'ERR_PARQUET_MALFORMED' },
        Buffer.from(bytes).toString('hex'),
      )
    }
  })

  it('limits nesting depth', () => {
    let value: ThriftValue = struct()
    for (let i = 0; i < MAX_THRIFT_DEPTH + 2; i++) value = struct([1, value])
    const deep = new Uint8Array([
      ...Array(MAX_THRIFT_DEPTH + 2).fill(0x1c),
      ...Array(MAX_THRIFT_DEPTH + 3).fill(0),
    ])
    assert.throws(() => decodeStruct(deep), { code: 'ERR_PARQUET_MALFORMED' })
    assert.throws(() => encodeStruct({ fields: [{ id: 1, value }] }), {
      code: 'ERR_PARQUET_MALFORMED',
    })
  })

  it('survives random bytes with a typed error or a value', () => {
    let seed = 42
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed & 0xff
    }
    for (let n = 0; n < 2000; n++) {
      const bytes = new Uint8Array(1 + (n % 64)).map(next)
      try {
        decodeStruct(bytes)
      } catch (error) {
        assert.equal((error as { code?: string }).code, 'ERR_PARQUET_MALFORMED')
      }
    }
  })

  it('refuses values their wire type cannot carry', () => {
    for (const value of [
      i32(2 ** 31),
      i16(1.5),
      { type: 'i8', value: 200 } as ThriftValue,
      i64(2n ** 63n),
    ]) {
      assert.throws(() => encodeStruct({ fields: [{ id: 1, value }] }), {
        code: 'ERR_PARQUET_MALFORMED',
      })
    }
    const mixed: ThriftValue = { type: 'list', elementType: 'i32', value: [i64(1)] }
    assert.throws(() => encodeStruct({ fields: [{ id: 1, value: mixed }] }), {
      code: 'ERR_PARQUET_MALFORMED',
    })
  })
})
