import { AttestError } from '../errors.ts'

/**
 * Typed, fail-closed access to one JSON object of token claims. Every getter throws
 * `ERR_ATTEST_TOKEN` naming the claim (never its value) when the claim is missing or has the
 * wrong type; `opt*` getters return `undefined` only when the claim is absent.
 */
export type ClaimReader = {
  readonly record: Readonly<Record<string, unknown>>
  /** Prefix of claim names in messages, e.g. `x-ms-isolation-tee.`. */
  readonly path: string
  /** Lower-case hex of exactly `bytes` bytes (either case accepted). */
  hex(name: string, bytes: number): string
  optHex(name: string, bytes: number): string | undefined
  /** An integer in `0..max`. */
  uint(name: string, max: number): number
  optUint(name: string, max: number): number | undefined
  bool(name: string): boolean
  optBool(name: string): boolean | undefined
  str(name: string): string
  optStr(name: string): string | undefined
  optStrings(name: string): readonly string[] | undefined
  obj(name: string): ClaimReader
  optObj(name: string): ClaimReader | undefined
}

const HEX = /^[0-9a-fA-F]*$/

/** True for a plain JSON object (not null, not an array). */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** An `ERR_ATTEST_TOKEN` about a claim; the message names the claim, never its value. */
export function claimError(path: string, problem: string): AttestError {
  return new AttestError('ERR_ATTEST_TOKEN', `Token claim ${path} ${problem}`, {
    details: { claim: path },
  })
}

/** Wrap a claims object; `path` prefixes claim names in error messages (`x-ms-isolation-tee.`). */
export function claimReader(record: unknown, path = ''): ClaimReader {
  if (!isRecord(record)) throw claimError(path || 'set', 'is not a JSON object')
  const get = (name: string): unknown => (Object.hasOwn(record, name) ? record[name] : undefined)
  const fail = (name: string, problem: string): AttestError => claimError(path + name, problem)

  const optHex = (name: string, bytes: number): string | undefined => {
    const value = get(name)
    if (value === undefined) return undefined
    if (typeof value !== 'string' || value.length !== bytes * 2 || !HEX.test(value)) {
      throw fail(name, `is not ${bytes} bytes of hex`)
    }
    return value.toLowerCase()
  }
  const optUint = (name: string, max: number): number | undefined => {
    const value = get(name)
    if (value === undefined) return undefined
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max) {
      throw fail(name, `is not an integer in 0..${max}`)
    }
    return value
  }
  const optBool = (name: string): boolean | undefined => {
    const value = get(name)
    if (value === undefined || typeof value === 'boolean') return value
    throw fail(name, 'is not a boolean')
  }
  const optStr = (name: string): string | undefined => {
    const value = get(name)
    if (value === undefined || typeof value === 'string') return value
    throw fail(name, 'is not a string')
  }
  const optObj = (name: string): ClaimReader | undefined => {
    const value = get(name)
    return value === undefined ? undefined : claimReader(value, `${path + name}.`)
  }
  const required = <T>(name: string, value: T | undefined): T => {
    if (value === undefined) throw fail(name, 'is missing')
    return value
  }

  return {
    record,
    path,
    hex: (name, bytes) => required(name, optHex(name, bytes)),
    optHex,
    uint: (name, max) => required(name, optUint(name, max)),
    optUint,
    bool: (name) => required(name, optBool(name)),
    optBool,
    str: (name) => required(name, optStr(name)),
    optStr,
    optStrings: (name) => {
      const value = get(name)
      if (value === undefined) return undefined
      if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) {
        throw fail(name, 'is not a list of strings')
      }
      return [...value]
    },
    obj: (name) => required(name, optObj(name)),
    optObj,
  }
}

/**
 * `{ [key]: value }` when `value` is defined, else `{}`: spreads optional claims without writing
 * `undefined` into them (`exactOptionalPropertyTypes`).
 */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }
}
