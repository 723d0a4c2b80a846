/** Shared shapes and checks of the SCONE session converter. */
import { PolicyError } from '../errors.ts'

export type Json = Record<string, unknown>

/** What the conversion carried over and what it could not. */
export type Report = { readonly mapped: string[]; readonly unsupported: string[] }

const LABEL = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

export function invalid(message: string): never {
  throw new PolicyError(
    'ERR_POLICY_SCONE_INVALID',
    `Not a SCONE session this converter reads: ${message}`,
  )
}

export function stringAt(o: Json, key: string, where: string): string {
  const v = o[key]
  if (typeof v !== 'string' || v === '') invalid(`${where} must be a non-empty string`)
  return v
}

/** A SCONE name as a DNS label: lower case, `_` and `.` as `-`. */
export function labelOf(name: string, where: string): string {
  const label = name.toLowerCase().replace(/[_.]/g, '-')
  if (!LABEL.test(label)) invalid(`${where}: ${name} cannot be made a DNS label`)
  return label
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
