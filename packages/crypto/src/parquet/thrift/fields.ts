import { malformed, type ThriftStruct, type ThriftType, type ThriftValue } from './types.ts'

type Of<T extends ThriftType> = Extract<ThriftValue, { type: T }>

/** The value of field `id`, if present. */
export function getField(s: ThriftStruct, id: number): ThriftValue | undefined {
  return s.fields.find((f) => f.id === id)?.value
}

/** Replace field `id`, or insert it in id order. */
export function setField(s: ThriftStruct, id: number, value: ThriftValue): void {
  const existing = s.fields.find((f) => f.id === id)
  if (existing !== undefined) {
    existing.value = value
    return
  }
  const at = s.fields.findIndex((f) => f.id > id)
  if (at === -1) s.fields.push({ id, value })
  else s.fields.splice(at, 0, { id, value })
}

/** Remove field `id` (no-op when absent). */
export function removeField(s: ThriftStruct, id: number): void {
  s.fields = s.fields.filter((f) => f.id !== id)
}

/**
 * Field `id` checked to have wire type `type`; `undefined` when absent.
 *
 * @throws CryptoError `ERR_PARQUET_MALFORMED` when present with another type.
 */
export function optional<T extends ThriftType>(
  s: ThriftStruct,
  id: number,
  type: T,
  what: string,
): Of<T> | undefined {
  const v = getField(s, id)
  if (v === undefined) return undefined
  if (v.type !== type) malformed(`${what} is ${v.type}, not ${type}`)
  return v as Of<T>
}

/**
 * Field `id` checked to be present with wire type `type`.
 *
 * @throws CryptoError `ERR_PARQUET_MALFORMED` when absent or of another type.
 */
export function required<T extends ThriftType>(
  s: ThriftStruct,
  id: number,
  type: T,
  what: string,
): Of<T> {
  const v = optional(s, id, type, what)
  if (v === undefined) malformed(`${what} is missing`)
  return v
}

/** Elements of a list field checked to have element type `type`. */
export function listOf<T extends ThriftType>(
  s: ThriftStruct,
  id: number,
  type: T,
  what: string,
): Of<T>[] | undefined {
  const list = optional(s, id, 'list', what)
  if (list === undefined) return undefined
  if (list.value.length > 0 && list.elementType !== type) {
    malformed(`${what} holds ${list.elementType}, not ${type}`)
  }
  return list.value as Of<T>[]
}

/** A string field (Thrift `string` is `binary` on the wire) decoded as UTF-8, lossy. */
export function text(v: Of<'binary'>): string {
  return new TextDecoder().decode(v.value)
}

export const i16 = (value: number): ThriftValue => ({ type: 'i16', value })
export const i32 = (value: number): ThriftValue => ({ type: 'i32', value })
export const i64 = (value: bigint | number): ThriftValue => ({ type: 'i64', value: BigInt(value) })
export const binary = (value: Uint8Array): ThriftValue => ({ type: 'binary', value })
export const bool = (value: boolean): ThriftValue => ({ type: 'bool', value })
export const struct = (...fields: [number, ThriftValue][]): ThriftValue => ({
  type: 'struct',
  value: { fields: fields.map(([id, value]) => ({ id, value })) },
})
