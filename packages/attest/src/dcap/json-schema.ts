// Exact-schema readers for Intel's collateral JSON: unknown keys, wrong types and malformed
// values are refused with ERR_ATTEST_COLLATERAL and the JSON path.
import { fromHex } from '@subrosa/core'
import type { TcbStatus } from '../claims.ts'
import { AttestError } from '../errors.ts'

export function schemaError(path: string, message: string): AttestError {
  return new AttestError('ERR_ATTEST_COLLATERAL', `Invalid collateral at ${path}: ${message}`, {
    details: { path },
  })
}

export type JsonObject = Readonly<Record<string, unknown>>

/** An object with exactly the required keys plus any of the optional ones. */
export function object(
  value: unknown,
  path: string,
  required: readonly string[],
  optional: readonly string[] = [],
): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw schemaError(path, 'not an object')
  }
  const record = value as JsonObject
  for (const key of required) if (!(key in record)) throw schemaError(`${path}.${key}`, 'missing')
  for (const key of Object.keys(record)) {
    if (!required.includes(key) && !optional.includes(key)) {
      throw schemaError(`${path}.${key}`, 'unknown key')
    }
  }
  return record
}

export function integer(value: unknown, path: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw schemaError(path, 'not an integer in range')
  }
  return value
}

export function string(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw schemaError(path, 'not a string')
  return value
}

/** Hex of exactly `size` bytes (either case). */
export function hexBytes(value: unknown, path: string, size: number): Uint8Array {
  const bytes = typeof value === 'string' && value.length === size * 2 ? fromHex(value) : undefined
  if (bytes === undefined) throw schemaError(path, `not ${size} bytes of hex`)
  return bytes
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/

export function date(value: unknown, path: string): Date {
  if (typeof value !== 'string' || !ISO_DATE.test(value)) throw schemaError(path, 'not a UTC date')
  const parsed = new Date(value)
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 19) !== value.slice(0, 19)) {
    throw schemaError(path, 'not a valid date')
  }
  return parsed
}

export function array(value: unknown, path: string, length?: number): readonly unknown[] {
  if (!Array.isArray(value) || value.length === 0) throw schemaError(path, 'not a non-empty array')
  if (length !== undefined && value.length !== length) {
    throw schemaError(path, `needs ${length} entries`)
  }
  return value
}

const PLATFORM_STATUSES: readonly TcbStatus[] = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
]
const ENCLAVE_STATUSES: readonly TcbStatus[] = ['UpToDate', 'OutOfDate', 'Revoked']

export function status(value: unknown, path: string, kind: 'platform' | 'enclave'): TcbStatus {
  const allowed = kind === 'platform' ? PLATFORM_STATUSES : ENCLAVE_STATUSES
  if (!allowed.includes(value as TcbStatus)) throw schemaError(path, 'unknown TCB status')
  return value as TcbStatus
}

export function advisories(value: unknown, path: string): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw schemaError(path, 'not an array')
  return value.map((id, i) => string(id, `${path}[${i}]`))
}

/** A level of an enclave (QE) or TDX module identity: `{tcb:{isvsvn}, tcbDate, tcbStatus}`. */
export type IsvLevel = {
  readonly isvSvn: number
  readonly tcbDate: Date
  readonly status: TcbStatus
  readonly advisoryIds: readonly string[]
}

export function isvLevels(value: unknown, path: string): IsvLevel[] {
  return array(value, path).map((item, i) => {
    const p = `${path}[${i}]`
    const level = object(item, p, ['tcb', 'tcbDate', 'tcbStatus'], ['advisoryIDs'])
    const tcb = object(level.tcb, `${p}.tcb`, ['isvsvn'])
    return {
      isvSvn: integer(tcb.isvsvn, `${p}.tcb.isvsvn`, 0xffff),
      tcbDate: date(level.tcbDate, `${p}.tcbDate`),
      status: status(level.tcbStatus, `${p}.tcbStatus`, 'enclave'),
      advisoryIds: advisories(level.advisoryIDs, `${p}.advisoryIDs`),
    }
  })
}

/** JSON.parse with the error mapped. */
export function parseJson(text: string, path: string): unknown {
  if (typeof text !== 'string') throw schemaError(path, 'not text')
  try {
    return JSON.parse(text)
  } catch {
    throw schemaError(path, 'not JSON')
  }
}
