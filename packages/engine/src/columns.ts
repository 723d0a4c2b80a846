// Which columns a job's queries can read, so Subrosa decrypts only those (ADR 0032). DuckDB's
// own parser reads the SQL (`json_serialize_sql`); the answer is a superset by construction:
// every name a column reference mentions anywhere, and "all" as soon as the query could read a
// column without naming it.
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'

/** Column names (lower case) the queries mention, or `all` when they may read any column. */
export type ReferencedColumns =
  | { readonly all: true }
  | {
      readonly all: false
      /** Every part of every column reference (qualifiers too: a superset is safe). */
      readonly names: ReadonlySet<string>
      /** Unqualified one-part references: an input named this way is read whole, as a struct. */
      readonly bare: ReadonlySet<string>
      /** Table names, table aliases and CTE names: a bare reference to one is a whole row. */
      readonly tables: ReadonlySet<string>
    }

// Node types that read columns they do not name: `*` and COLUMNS(...) (STAR), `#n` (the n-th
// column of the FROM), PIVOT and UNPIVOT (group by or unpivot every other column), and NATURAL
// joins (join on every shared name).
const IMPLICIT = new Set(['STAR', 'POSITIONAL_REFERENCE', 'PIVOT', 'UNPIVOT'])

let parser: Promise<DuckDBConnection> | undefined

/** One process-wide DuckDB that only parses: no data, no files, no network. */
function parserConnection(): Promise<DuckDBConnection> {
  parser ??= (async () => {
    const instance = await DuckDBInstance.create(':memory:', {
      threads: '1',
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
    })
    const connection = await instance.connect()
    await connection.run('SET enable_external_access = false')
    await connection.run('SET lock_configuration = true')
    return connection
  })()
  return parser
}

/**
 * The columns `queries` reference. Anything the parser cannot serialize (a statement other than
 * a SELECT, a syntax error that the real run will report) counts as `all`.
 *
 * @example await referencedColumns(['SELECT a, sum(b) FROM t GROUP BY a']) // names {a, b}
 */
export async function referencedColumns(queries: readonly string[]): Promise<ReferencedColumns> {
  const names = new Set<string>()
  const bare = new Set<string>()
  const tables = new Set<string>()
  const connection = await parserConnection()
  for (const query of queries) {
    let tree: unknown
    try {
      const reader = await connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [
        query,
      ])
      tree = JSON.parse(String(reader.getRows()[0]?.[0]))
    } catch {
      return { all: true }
    }
    if (typeof tree !== 'object' || tree === null || (tree as { error?: unknown }).error !== false)
      return { all: true }
    if (!collect(tree, { names, bare, tables })) return { all: true }
  }
  return { all: false, names, bare, tables }
}

type Found = { names: Set<string>; bare: Set<string>; tables: Set<string> }

/** Adds every column and table name under `node` to `found`; false when it reads unnamed columns. */
function collect(node: unknown, found: Found): boolean {
  if (Array.isArray(node)) return node.every((child) => collect(child, found))
  if (typeof node !== 'object' || node === null) return true
  const record = node as Record<string, unknown>
  if (record.type === 'ORDER_MODIFIER' && Array.isArray(record.orders)) {
    // ORDER BY ALL orders by the select list: a bare STAR there names no column of its own.
    const orders = record.orders.filter((o) => !isAll((o as { expression?: unknown }).expression))
    return collect(orders, found)
  }
  if (typeof record.class === 'string' && IMPLICIT.has(record.class)) return false
  if (typeof record.type === 'string' && IMPLICIT.has(record.type)) return false
  if (record.ref_type === 'NATURAL') return false
  for (const key of ['column_names', 'using_columns'] as const) {
    const list = record[key]
    if (!Array.isArray(list)) continue
    for (const name of list) if (typeof name === 'string') found.names.add(name.toLowerCase())
    if (key === 'column_names' && list.length === 1 && typeof list[0] === 'string')
      found.bare.add(list[0].toLowerCase())
  }
  // Table references carry no expression class; their names and aliases, and CTE names.
  if (record.class === undefined) {
    for (const key of ['alias', 'table_name'] as const) {
      const name = record[key]
      if (typeof name === 'string' && name !== '') found.tables.add(name.toLowerCase())
    }
  }
  const ctes = (record.cte_map as { map?: unknown } | undefined)?.map
  if (Array.isArray(ctes))
    for (const entry of ctes) {
      const key = (entry as { key?: unknown }).key
      if (typeof key === 'string') found.tables.add(key.toLowerCase())
    }
  return Object.values(record).every((child) => collect(child, found))
}

/** `ALL` (a STAR without relation, pattern, EXCLUDE, REPLACE or RENAME). */
function isAll(node: unknown): boolean {
  if (typeof node !== 'object' || node === null) return false
  const star = node as Record<string, unknown>
  const empty = (key: string) => !Array.isArray(star[key]) || (star[key] as unknown[]).length === 0
  return (
    star.class === 'STAR' &&
    star.expr == null &&
    (star.relation_name ?? '') === '' &&
    ['exclude_list', 'replace_list', 'qualified_exclude_list', 'rename_list'].every(empty)
  )
}

/**
 * The top-level fields of one input the queries can read, out of `fields` (the file's, in
 * order), or `undefined` for all of them. A query naming the input, a table alias or a CTE as a
 * column (`SELECT trips FROM trips`, `to_json(t)`: a struct of every column) reads all. When the queries name none
 * (`SELECT count(*) FROM trips`), the first field stays: a Parquet file needs one column.
 */
export function fieldsToRead(
  referenced: ReferencedColumns,
  input: string,
  fields: readonly string[],
): ReadonlySet<string> | undefined {
  if (referenced.all || referenced.bare.has(input.toLowerCase())) return undefined
  for (const name of referenced.bare) if (referenced.tables.has(name)) return undefined
  const kept = keepOrFirst(fields, (f) => referenced.names.has(f.toLowerCase()))
  return kept.size === fields.length ? undefined : kept
}

/** The fields `keep` accepts, or the first one when it accepts none: a file needs one column. */
export function keepOrFirst(
  fields: readonly string[],
  keep: (field: string) => boolean,
): Set<string> {
  const kept = new Set(fields.filter(keep))
  if (kept.size === 0 && fields[0] !== undefined) kept.add(fields[0])
  return kept
}
