import { CoreError } from './errors.ts'

/**
 * Serialize a JSON value per RFC 8785 (JSON Canonicalization Scheme): object members sorted by
 * UTF-16 code units, ECMAScript number formatting, no insignificant whitespace.
 *
 * @example canonicalJson({ b: 1, a: 'x' }) // '{"a":"x","b":1}'
 * @throws CoreError `ERR_CORE_CANONICAL_JSON` for values JSON cannot represent (NaN, Infinity,
 * undefined, functions, bigint, lone surrogates).
 */
export function canonicalJson(value: unknown): string {
  return serialize(value, '$')
}

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (!Number.isFinite(value)) fail(path, 'non-finite number')
      return JSON.stringify(value)
    case 'string':
      if (!value.isWellFormed()) fail(path, 'lone surrogate in string')
      return JSON.stringify(value)
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((v, i) => serialize(v, `${path}[${i}]`)).join(',')}]`
      }
      if (value instanceof Uint8Array) fail(path, 'bytes must be encoded first')
      const record = value as Record<string, unknown>
      const keys = Object.keys(record)
        .filter((k) => record[k] !== undefined)
        .sort()
      return `{${keys.map((k) => `${JSON.stringify(k)}:${serialize(record[k], `${path}.${k}`)}`).join(',')}}`
    }
    default:
      return fail(path, `${typeof value} is not JSON`)
  }
}

function fail(path: string, why: string): never {
  throw new CoreError('ERR_CORE_CANONICAL_JSON', `Cannot canonicalize JSON at ${path}: ${why}`)
}
