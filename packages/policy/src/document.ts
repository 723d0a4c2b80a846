import { parseDocument } from 'yaml'
import type { z } from 'zod'
import { PolicyError } from './errors.ts'

const MAX_DOCUMENT_BYTES = 1 << 20

/** Format a schema issue path as `workloads[0].inject.files["/run/subrosa/x"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(String(p)))
      out += out === '' ? String(p) : `.${String(p)}`
    else out += `[${JSON.stringify(String(p))}]`
  }
  return out === '' ? '(document)' : out
}

/**
 * Parse YAML text into plain data, defensively: size limit, few aliases, unique keys, no custom
 * tags. Errors carry the line and column.
 */
export function parseYaml(
  text: string,
  code: 'ERR_POLICY_YAML' | 'ERR_JOB_YAML',
  what: string,
): unknown {
  if (Buffer.byteLength(text, 'utf8') > MAX_DOCUMENT_BYTES) {
    throw new PolicyError(code, `The ${what} exceeds 1 MiB`)
  }
  const doc = parseDocument(text, { uniqueKeys: true, strict: true, prettyErrors: true })
  const error = doc.errors[0]
  if (error !== undefined) {
    const pos = error.linePos?.[0]
    throw new PolicyError(
      code,
      `The ${what} is not valid YAML${pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`}: ${error.message.split(/ at line \d+|\n/)[0]}`,
      {
        details: pos === undefined ? {} : { line: pos.line, column: pos.col },
      },
    )
  }
  try {
    return doc.toJS({ maxAliasCount: 20 })
  } catch (cause) {
    throw new PolicyError(
      code,
      `The ${what} cannot be loaded: ${(cause as Error).message.split('\n')[0]}`,
      { cause },
    )
  }
}

/**
 * Validate plain data with a schema; every violation is reported with its path.
 *
 * @throws PolicyError `code` with `details.errors` (one line per violation) and `details.path`.
 */
export function validate<T>(
  schema: z.ZodType<T>,
  doc: unknown,
  code: 'ERR_POLICY_INVALID' | 'ERR_JOB_INVALID',
  what: string,
): T {
  const result = schema.safeParse(doc)
  if (result.success) return result.data
  const issues = result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message }))
  const errors = issues.map((i) => `${i.path}: ${i.message}`)
  throw new PolicyError(
    code,
    `Invalid ${what}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
    {
      details: { path: issues[0]?.path ?? '(document)', errors },
    },
  )
}
