import type { z } from 'zod'
import { ProtocolError } from './errors.ts'

/**
 * Parse an untrusted wire value with a schema, once, at the boundary.
 *
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` listing the offending paths (never the values).
 */
export function parseWire<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  const errors = result.error.issues.slice(0, 10).map((i) => `${formatPath(i.path)}: ${i.message}`)
  throw new ProtocolError('ERR_PROTOCOL_MALFORMED', `Malformed ${what}: ${errors.join('; ')}`, {
    details: { errors },
  })
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path)
    out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`
  return out === '' ? '(root)' : out
}
