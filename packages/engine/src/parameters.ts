import type { DuckDBValue } from '@duckdb/node-api'
import { EngineError } from './errors.ts'
import { parameterValue } from './query.ts'

type Scalar = string | number | boolean

/**
 * The job's parameters with run-time values applied. A value given at run time must name a
 * declared parameter and is converted to the declared value's type (`--param min_fare=10` for a
 * number parameter gives the number 10).
 *
 * @example resolveParameters({ min_fare: 2.5 }, { min_fare: '10' }) // { min_fare: 10n }
 * @throws EngineError `ERR_ENGINE_PARAMETER` for an undeclared name or a value of the wrong type.
 */
export function resolveParameters(
  declared: Readonly<Record<string, Scalar>>,
  given: Readonly<Record<string, Scalar>>,
): Record<string, DuckDBValue> {
  const out: Record<string, DuckDBValue> = {}
  for (const [name, value] of Object.entries(declared)) out[name] = parameterValue(value)
  for (const [name, value] of Object.entries(given)) {
    const current = declared[name]
    if (current === undefined)
      throw new EngineError(
        'ERR_ENGINE_PARAMETER',
        `The job declares no parameter ${name} (declared: ${Object.keys(declared).join(', ') || 'none'})`,
      )
    out[name] = parameterValue(convert(name, value, typeof current))
  }
  return out
}

function convert(name: string, value: Scalar, type: string): Scalar {
  if (typeof value === type) return value
  const text = String(value)
  if (type === 'number') {
    const n = Number(text)
    if (text.trim() !== '' && Number.isFinite(n)) return n
  } else if (type === 'boolean') {
    if (text === 'true' || text === 'false') return text === 'true'
  } else return text
  throw new EngineError('ERR_ENGINE_PARAMETER', `Parameter ${name} must be a ${type}`)
}
