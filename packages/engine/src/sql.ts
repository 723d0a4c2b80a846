import { EngineError } from './errors.ts'

/** A job input bound into the query: its SQL name, local path and positional key parameter. */
export type BoundInput = {
  readonly name: string
  readonly path: string
  /** `$n` holding the footer key; none for a plaintext file (decrypted in the scratch dir). */
  readonly parameter?: number
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
 * Compose the job query with its inputs as CTEs over `read_parquet(path, encryption_config =
 * {footer_key_value: $n::BLOB})` (or plain `read_parquet(path)` for an input already decrypted
 * into the scratch dir), merging with the query's own `WITH` clause. Each input's key is the
 * bound parameter `$n`, never text.
 */
export function composeQuery(query: string, inputs: readonly BoundInput[]): string {
  const body = query.trim().replace(/;\s*$/, '')
  if (body === '') throw new EngineError('ERR_ENGINE_QUERY', 'The query is empty')
  const ctes = inputs
    .map((i) =>
      i.parameter === undefined
        ? `"${i.name}" AS (SELECT * FROM read_parquet(${sqlString(i.path)}))`
        : `"${i.name}" AS (SELECT * FROM read_parquet(${sqlString(i.path)}, encryption_config = {footer_key_value: $${i.parameter}::BLOB}))`,
    )
    .join(',\n  ')
  const start = firstTokenOffset(body)
  const withMatch = /^with\s+(recursive\s+)?/i.exec(body.slice(start))
  if (withMatch === null) return `WITH ${ctes}\n${body}`
  const recursive = withMatch[1] === undefined ? '' : 'RECURSIVE '
  return `WITH ${recursive}${ctes},\n${body.slice(start + withMatch[0].length)}`
}
