// SQL Server's normalization of values before cell encryption: the type's TDS encoding, with
// every integer type (and bit) widened to 8 bytes little-endian. See docs/adr/0020.
import { CryptoError } from '../errors.ts'

/** A SQL Server column type an Always Encrypted cell can hold here. */
export type AeSqlType =
  | {
      readonly name:
        | 'bit'
        | 'tinyint'
        | 'smallint'
        | 'int'
        | 'bigint'
        | 'float'
        | 'real'
        | 'nvarchar'
        | 'varbinary'
        | 'date'
    }
  | { readonly name: 'datetime2'; readonly scale: number }
  | { readonly name: 'decimal'; readonly precision: number; readonly scale: number }

/**
 * A plain value. Integers as number or bigint (`bigint` columns decode to bigint), `bit` as
 * boolean, `nvarchar` as string, `varbinary` as bytes; `date` as `YYYY-MM-DD`, `datetime2` as
 * `YYYY-MM-DD HH:MM:SS[.fraction]`, `decimal` as a decimal string. A string given for a numeric
 * or `bit` type is parsed (what a command line passes).
 */
export type AeValue = boolean | number | bigint | string | Uint8Array

const SIMPLE = [
  'bit',
  'tinyint',
  'smallint',
  'int',
  'bigint',
  'float',
  'real',
  'nvarchar',
  'varbinary',
  'date',
] as const

const INTEGER_RANGE: Record<string, readonly [bigint, bigint]> = {
  tinyint: [0n, 255n],
  smallint: [-32768n, 32767n],
  int: [-2147483648n, 2147483647n],
  bigint: [-(2n ** 63n), 2n ** 63n - 1n],
}

const unsupported = (text: string) =>
  new CryptoError(
    'ERR_AE_UNSUPPORTED_TYPE',
    `Always Encrypted cells are not implemented for SQL type ${JSON.stringify(text.slice(0, 64))}`,
    { details: { type: text.slice(0, 64) } },
  )

const invalid = (type: AeSqlType, why: string) =>
  new CryptoError('ERR_AE_VALUE', `A ${formatAeSqlType(type)} value ${why}`, {
    details: { type: formatAeSqlType(type) },
  })

/**
 * Parse a type as stored in the column metadata: `bigint`, `nvarchar`, `datetime2(6)`,
 * `decimal(18,2)`, ...
 *
 * @throws CryptoError `ERR_AE_UNSUPPORTED_TYPE`.
 */
export function parseAeSqlType(text: string): AeSqlType {
  const t = text.trim().toLowerCase()
  const simple = SIMPLE.find((name) => name === t)
  if (simple !== undefined) return { name: simple }
  const dt2 = /^datetime2(?:\(([0-7])\))?$/.exec(t)
  if (dt2 !== null) return { name: 'datetime2', scale: Number(dt2[1] ?? 7) }
  const dec = /^(?:decimal|numeric)(?:\((\d{1,2})(?:,\s*(\d{1,2}))?\))?$/.exec(t)
  if (dec !== null) {
    const precision = Number(dec[1] ?? 18)
    const scale = Number(dec[2] ?? 0)
    if (precision >= 1 && precision <= 38 && scale <= precision)
      return { name: 'decimal', precision, scale }
  }
  throw unsupported(text)
}

/** The canonical text of a type (what {@link parseAeSqlType} reads back). */
export function formatAeSqlType(type: AeSqlType): string {
  if (type.name === 'datetime2') return `datetime2(${type.scale})`
  if (type.name === 'decimal') return `decimal(${type.precision},${type.scale})`
  return type.name
}

const DAY_MS = 86_400_000
const epochDay1 = (() => {
  const d = new Date(0)
  d.setUTCFullYear(1, 0, 1)
  return d.getTime()
})()

function dateToDays(type: AeSqlType, text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text)
  if (m === null) throw invalid(type, 'is not a YYYY-MM-DD date')
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const date = new Date(0)
  date.setUTCFullYear(y, mo - 1, d)
  if (
    y < 1 ||
    date.getUTCFullYear() !== y ||
    date.getUTCMonth() !== mo - 1 ||
    date.getUTCDate() !== d
  )
    throw invalid(type, 'is not a date between 0001-01-01 and 9999-12-31')
  return Math.round((date.getTime() - epochDay1) / DAY_MS)
}

function daysToDate(days: number): string {
  const d = new Date(epochDay1 + days * DAY_MS)
  const pad = (n: number, w = 2) => String(n).padStart(w, '0')
  return `${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`
}

function uintLE(value: bigint, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let v = value
  for (let i = 0; i < length; i++) {
    out[i] = Number(v & 0xffn)
    v >>= 8n
  }
  return out
}

function readUintLE(bytes: Uint8Array, offset: number, length: number): bigint {
  let v = 0n
  for (let i = length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i] ?? 0)
  return v
}

const timeLength = (scale: number) => (scale <= 2 ? 3 : scale <= 4 ? 4 : 5)

function toInteger(type: AeSqlType, value: AeValue): bigint {
  let v: bigint
  if (typeof value === 'bigint') v = value
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value)
  else if (typeof value === 'string' && /^-?\d{1,20}$/.test(value)) v = BigInt(value)
  else throw invalid(type, 'is not an integer')
  const [lo, hi] = INTEGER_RANGE[type.name] ?? [0n, 0n]
  if (v < lo || v > hi) throw invalid(type, 'is out of range')
  return v
}

function toNumber(type: AeSqlType, value: AeValue): number {
  const v = typeof value === 'string' && value.trim() !== '' ? Number(value) : value
  if (typeof v !== 'number' || Number.isNaN(v)) throw invalid(type, 'is not a number')
  return v
}

/**
 * The normalized bytes of a value of `type`, the plaintext of its cell.
 *
 * @example encodeAeValue({ name: 'bigint' }, 42n) // 2a 00 00 00 00 00 00 00
 * @throws CryptoError `ERR_AE_VALUE` for a value that is not of the type or out of its range.
 */
export function encodeAeValue(type: AeSqlType, value: AeValue): Uint8Array {
  switch (type.name) {
    case 'bit': {
      const v = value === true || value === 1 || value === '1' || value === 'true'
      if (!v && !(value === false || value === 0 || value === '0' || value === 'false'))
        throw invalid(type, 'is not a boolean')
      return uintLE(v ? 1n : 0n, 8)
    }
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint':
      return uintLE(BigInt.asUintN(64, toInteger(type, value)), 8)
    case 'float': {
      const out = new Uint8Array(8)
      new DataView(out.buffer).setFloat64(0, toNumber(type, value), true)
      return out
    }
    case 'real': {
      const out = new Uint8Array(4)
      new DataView(out.buffer).setFloat32(0, toNumber(type, value), true)
      return out
    }
    case 'nvarchar':
      if (typeof value !== 'string') throw invalid(type, 'is not a string')
      return new Uint8Array(Buffer.from(value, 'utf16le'))
    case 'varbinary':
      if (!(value instanceof Uint8Array)) throw invalid(type, 'is not bytes')
      return new Uint8Array(value)
    case 'date':
      if (typeof value !== 'string') throw invalid(type, 'is not a YYYY-MM-DD string')
      return uintLE(BigInt(dateToDays(type, value)), 3)
    case 'datetime2': {
      const m =
        typeof value === 'string'
          ? /^(\d{4}-\d{2}-\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/.exec(value)
          : null
      if (m === null) throw invalid(type, 'is not a YYYY-MM-DD HH:MM:SS[.fraction] string')
      const [h, mi, s] = [Number(m[2]), Number(m[3]), Number(m[4])]
      if (h > 23 || mi > 59 || s > 59) throw invalid(type, 'has an impossible time of day')
      const fraction = (m[5] ?? '').padEnd(9, '0')
      if (/[1-9]/.test(fraction.slice(type.scale)))
        throw invalid(type, 'has more digits than its scale')
      const units =
        BigInt((h * 60 + mi) * 60 + s) * 10n ** BigInt(type.scale) +
        BigInt(fraction.slice(0, type.scale) || '0')
      const out = new Uint8Array(timeLength(type.scale) + 3)
      out.set(uintLE(units, timeLength(type.scale)), 0)
      out.set(uintLE(BigInt(dateToDays(type, m[1] ?? '')), 3), timeLength(type.scale))
      return out
    }
    case 'decimal': {
      const text =
        typeof value === 'string'
          ? value.trim()
          : typeof value === 'boolean' || value instanceof Uint8Array
            ? ''
            : String(value)
      const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text)
      if (m === null || `${m[2]}${m[3] ?? ''}` === '')
        throw invalid(type, 'is not a decimal number')
      const fraction = m[3] ?? ''
      if (/[1-9]/.test(fraction.slice(type.scale)))
        throw invalid(type, 'has more digits than its scale')
      const unscaled = BigInt(
        `${m[2] || '0'}${fraction.slice(0, type.scale).padEnd(type.scale, '0')}`,
      )
      if (unscaled >= 10n ** BigInt(type.precision)) throw invalid(type, 'exceeds its precision')
      const out = new Uint8Array(17)
      out[0] = m[1] === '-' && unscaled !== 0n ? 0 : 1
      out.set(uintLE(unscaled, 16), 1)
      return out
    }
  }
}

/**
 * The value a cell's plaintext holds, read back as {@link encodeAeValue} wrote it.
 *
 * @throws CryptoError `ERR_AE_VALUE` when the bytes are not a valid encoding of `type`.
 */
export function decodeAeValue(type: AeSqlType, bytes: Uint8Array): AeValue {
  const need = (length: number) => {
    if (bytes.length !== length) throw invalid(type, `must be ${length} bytes, not ${bytes.length}`)
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  switch (type.name) {
    case 'bit': {
      need(8)
      const v = view.getBigUint64(0, true)
      if (v > 1n) throw invalid(type, 'is neither 0 nor 1')
      return v === 1n
    }
    case 'tinyint':
    case 'smallint':
    case 'int':
    case 'bigint': {
      need(8)
      const v = view.getBigInt64(0, true)
      const [lo, hi] = INTEGER_RANGE[type.name] ?? [0n, 0n]
      if (v < lo || v > hi) throw invalid(type, 'is out of range')
      return type.name === 'bigint' ? v : Number(v)
    }
    case 'float':
      need(8)
      return view.getFloat64(0, true)
    case 'real':
      need(4)
      return view.getFloat32(0, true)
    case 'nvarchar':
      if (bytes.length % 2 !== 0) throw invalid(type, 'has an odd number of UTF-16 bytes')
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf16le')
    case 'varbinary':
      return new Uint8Array(bytes)
    case 'date':
      need(3)
      return daysToDate(Number(readUintLE(bytes, 0, 3)))
    case 'datetime2': {
      const tl = timeLength(type.scale)
      need(tl + 3)
      const units = readUintLE(bytes, 0, tl)
      const per = 10n ** BigInt(type.scale)
      const seconds = Number(units / per)
      if (seconds >= 86_400) throw invalid(type, 'has a time of day past midnight')
      const pad = (n: number) => String(n).padStart(2, '0')
      const time = `${pad(Math.floor(seconds / 3600))}:${pad(Math.floor(seconds / 60) % 60)}:${pad(seconds % 60)}`
      const frac = type.scale === 0 ? '' : `.${String(units % per).padStart(type.scale, '0')}`
      return `${daysToDate(Number(readUintLE(bytes, tl, 3)))} ${time}${frac}`
    }
    case 'decimal': {
      need(17)
      if (bytes[0] !== 0 && bytes[0] !== 1) throw invalid(type, 'has a sign byte other than 0 or 1')
      const unscaled = readUintLE(bytes, 1, 16)
      if (unscaled >= 10n ** BigInt(type.precision)) throw invalid(type, 'exceeds its precision')
      const digits = unscaled.toString().padStart(type.scale + 1, '0')
      const int = digits.slice(0, digits.length - type.scale)
      const text = type.scale === 0 ? int : `${int}.${digits.slice(digits.length - type.scale)}`
      return bytes[0] === 0 ? `-${text}` : text
    }
  }
}
