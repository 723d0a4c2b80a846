import { EngineError } from './errors.ts'

/** A job input bound into the query: its SQL name and the relation that reads it. */
export type BoundInput = {
  readonly name: string
  /** A relation for FROM (`read_parquet(...)`); keys appear in it only as `$name` parameters. */
  readonly relation: string
}

/** A single-quoted SQL string literal. Paths only: keys never go into SQL text. */
export function sqlString(value: string): string {
  if (value.includes('\0')) throw new EngineError('ERR_ENGINE_INPUT', 'Paths cannot contain NUL')
  return `'${value.replaceAll("'", "''")}'`
}

/** Strip leading whitespace and SQL comments; returns the offset of the first token. */
function firstTokenOffset(sql: string): number {
  let i = 0
  for (;;) {
    while (i < sql.length && /\s/.test(sql[i] as string)) i++
    if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? sql.length : end + 1
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2)
      if (end === -1) throw new EngineError('ERR_ENGINE_QUERY', 'Unterminated comment in the query')
      i = end + 2
    } else return i
  }
}

/**
 * Compose a query with the job's inputs as CTEs over their relations (`read_parquet(path,
 * encryption_config = {footer_key_value: $subrosa_key_1::BLOB})`, `read_csv(...)`), merging with
 * the query's own `WITH` clause. Keys are named parameters, never text.
 */
export function composeQuery(query: string, inputs: readonly BoundInput[]): string {
  const body = query.trim().replace(/;\s*$/, '')
  if (body === '') throw new EngineError('ERR_ENGINE_QUERY', 'The query is empty')
  const ctes = inputs.map((i) => `"${i.name}" AS (SELECT * FROM ${i.relation})`).join(',\n  ')
  const start = firstTokenOffset(body)
  const withMatch = /^with\s+(recursive\s+)?/i.exec(body.slice(start))
  if (withMatch === null) return `WITH ${ctes}\n${body}`
  const recursive = withMatch[1] === undefined ? '' : 'RECURSIVE '
  return `WITH ${recursive}${ctes},\n${body.slice(start + withMatch[0].length)}`
}
