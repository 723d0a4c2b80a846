import { isScalar, LineCounter, parseDocument, visit } from 'yaml'
import type { z } from 'zod'
import { PolicyError } from './errors.ts'

/** Documents larger than this are refused before parsing. */
export const MAX_DOCUMENT_BYTES = 1 << 20
/** Alias expansions allowed when loading a document (a "billion laughs" guard). */
const MAX_ALIAS_COUNT = 20
/** Nesting allowed in a document; real policies nest about 8 deep (claim rules a little more). */
export const MAX_DEPTH = 64

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
 * Parse YAML text into plain data, defensively: size limit, YAML 1.2 only (no `%YAML 1.1`, whose
 * `yes`/`no` booleans and merge keys change meaning), no tags beyond the core schema, scalar keys
 * only, few aliases, unique keys. Errors carry the line and column when there is one.
 */
export function parseYaml(
  text: string,
  code: 'ERR_POLICY_YAML' | 'ERR_JOB_YAML',
  what: string,
): unknown {
  if (text.length > MAX_DOCUMENT_BYTES || Buffer.byteLength(text, 'utf8') > MAX_DOCUMENT_BYTES) {
    throw new PolicyError(code, `The ${what} exceeds 1 MiB`, {
      details: { limit: MAX_DOCUMENT_BYTES },
    })
  }
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, {
    version: '1.2',
    schema: 'core',
    merge: false,
    resolveKnownTags: false,
    uniqueKeys: true,
    strict: true,
    prettyErrors: true,
    lineCounter,
  })
  const fail = (why: string, offset: number | undefined): never => {
    const pos = offset === undefined ? undefined : lineCounter.linePos(offset)
    throw new PolicyError(
      code,
      `The ${what} is not valid YAML${pos === undefined ? '' : ` at line ${pos.line}, column ${pos.col}`}: ${why}`,
      { details: pos === undefined ? {} : { line: pos.line, column: pos.col } },
    )
  }
  const problem = doc.errors[0] ?? doc.warnings[0]
  if (problem !== undefined) fail(problem.message.split(/ at line \d+|\n/)[0] ?? '', problem.pos[0])
  if (doc.directives.yaml.version !== '1.2') fail('only YAML 1.2 is accepted', 0)
  visit(doc, {
    Pair(_, pair) {
      if (pair.key !== null && !isScalar(pair.key)) {
        const range = (pair.key as { range?: [number, number, number] | null }).range
        fail('mapping keys must be plain scalars', range?.[0])
      }
    },
  })
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })
  } catch (cause) {
    throw new PolicyError(
      code,
      `The ${what} cannot be loaded: ${(cause as Error).message.split('\n')[0]}`,
      { cause, details: { maxAliasCount: MAX_ALIAS_COUNT } },
    )
  }
}

type Problem = { readonly path: readonly PropertyKey[]; readonly message: string }

/**
 * Structural problems a schema cannot see or would trip over: cycles (a YAML alias to its own
 * ancestor), nesting beyond {@link MAX_DEPTH}, and `__proto__` keys (which records drop silently).
 */
function treeProblems(
  node: unknown,
  path: PropertyKey[] = [],
  ancestors: Set<object> = new Set(),
): Problem[] {
  if (typeof node !== 'object' || node === null) return []
  if (ancestors.has(node)) return [{ path, message: 'refers to itself (a cyclic alias)' }]
  if (path.length >= MAX_DEPTH) return [{ path, message: `nests deeper than ${MAX_DEPTH} levels` }]
  ancestors.add(node)
  const out: Problem[] = []
  for (const [key, value] of Object.entries(node)) {
    const at = [...path, Array.isArray(node) ? Number(key) : key]
    if (key === '__proto__') out.push({ path: at, message: 'is a reserved key' })
    else out.push(...treeProblems(value, at, ancestors))
  }
  ancestors.delete(node)
  return out
}

/**
 * One problem per violation, at the most precise path: an unknown key is reported at the key
 * itself, a bad record key with its own reason, and a union by the branch the input was meant for
 * (the only one whose type and keys fit).
 */
function problems(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): Problem[] {
  const path = [...prefix, ...issue.path]
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => ({ path: [...path, key], message: 'unknown key' }))
    case 'invalid_key':
      return issue.issues.length === 0
        ? [{ path, message: issue.message }]
        : issue.issues.flatMap((i) => problems({ ...i, path: [] }, path))
    case 'invalid_union': {
      // A branch was not meant when the input is not even of its type or shape.
      const typed = issue.errors.filter(
        (branch) =>
          !branch.some(
            (i) =>
              i.path.length === 0 && (i.code === 'invalid_type' || i.code === 'unrecognized_keys'),
          ),
      )
      const only = typed.length === 1 ? typed[0] : undefined
      return only === undefined
        ? [{ path, message: issue.message }]
        : only.flatMap((i) => problems(i, path))
    }
    default:
      return [{ path, message: issue.message }]
  }
}

/**
 * Validate plain data with a schema; every violation is reported with its path.
 *
 * @throws PolicyError `code` with `details.errors` (one `path: reason` line per violation) and
 * `details.path` (the first violation's path).
 */
export function validate<T>(
  schema: z.ZodType<T>,
  doc: unknown,
  code: 'ERR_POLICY_INVALID' | 'ERR_JOB_INVALID',
  what: string,
): T {
  const structural = treeProblems(doc)
  const result = structural.length === 0 ? schema.safeParse(doc) : undefined
  if (result?.success === true) return result.data
  const issues = (
    result === undefined ? structural : result.error.issues.flatMap((i) => problems(i, []))
  ).map((p) => ({ path: formatPath(p.path), message: p.message }))
  const errors = [...new Set(issues.map((i) => `${i.path}: ${i.message}`))]
  throw new PolicyError(
    code,
    `Invalid ${what}: ${errors[0]}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`,
    { details: { path: issues[0]?.path ?? '(document)', errors } },
  )
}
