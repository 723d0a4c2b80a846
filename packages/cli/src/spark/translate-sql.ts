import { CliError } from '../errors.ts'

/** A job query rewritten for Spark SQL, with the named parameters it uses. */
export type SparkSql = {
  /** Spark SQL text: `:name` parameter markers, backquoted identifiers, Spark string escapes. */
  readonly sql: string
  /** The `$name` parameters the query uses, in order of first use. */
  readonly parameters: readonly string[]
}

/**
 * Functions whose name, arguments and result are the same in DuckDB and Spark SQL (3.5). Anything
 * else called in a query is refused: a function that exists in both under one name but means
 * something else (`dayofweek` counts from 0 in DuckDB and 1 in Spark, `regexp_replace` replaces
 * one match in DuckDB and all in Spark, `concat` skips NULLs in DuckDB and returns NULL in Spark)
 * is as wrong as one that does not exist.
 */
export const SPARK_FUNCTIONS: ReadonlySet<string> = new Set([
  'abs',
  'any_value',
  'approx_count_distinct',
  'avg',
  'bool_and',
  'bool_or',
  'cast',
  'ceil',
  'ceiling',
  'coalesce',
  'corr',
  'count',
  'count_if',
  'covar_pop',
  'covar_samp',
  'cume_dist',
  'date_trunc',
  'day',
  'dense_rank',
  'exp',
  'extract',
  'first_value',
  'floor',
  'greatest',
  'hour',
  'ifnull',
  'lag',
  'last_value',
  'lead',
  'least',
  'left',
  'length',
  'ln',
  'log10',
  'lower',
  'lpad',
  'ltrim',
  'max',
  'md5',
  'median',
  'min',
  'minute',
  'month',
  'ntile',
  'nullif',
  'percent_rank',
  'pow',
  'power',
  'quarter',
  'rank',
  'replace',
  'reverse',
  'right',
  'round',
  'row_number',
  'rpad',
  'rtrim',
  'second',
  'sign',
  'sqrt',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'substr',
  'substring',
  'sum',
  'trim',
  'try_cast',
  'upper',
  'var_pop',
  'var_samp',
  'variance',
  'year',
])

/** Keywords that may precede `(` without being a function call. */
const PAREN_KEYWORDS = new Set([
  'all',
  'and',
  'any',
  'as',
  'between',
  'by',
  'case',
  'else',
  'except',
  'exists',
  'filter',
  'from',
  'in',
  'intersect',
  'is',
  'join',
  'like',
  'ilike',
  'not',
  'on',
  'or',
  'over',
  'select',
  'some',
  'then',
  'union',
  'using',
  'values',
  'when',
  'where',
  'with',
])

/**
 * DuckDB syntax with no Spark SQL equivalent (or another meaning there): the construct a keyword
 * starts, given the previous token and the text after it, or undefined where the word is a name.
 */
function duckdbOnly(word: string, previous: string, after: string): string | undefined {
  const next = /^[A-Za-z_]+/.exec(after)?.[0]?.toLowerCase()
  if (word === 'qualify') return 'QUALIFY'
  if ((word === 'exclude' || word === 'replace') && previous === '*')
    return `SELECT * ${word.toUpperCase()}`
  if ((word === 'asof' || word === 'positional') && next === 'join')
    return `${word.toUpperCase()} JOIN`
  if (word === 'sample' && previous === 'using') return 'USING SAMPLE'
  if (word === 'tablesample') return 'TABLESAMPLE'
  if ((word === 'pivot' || word === 'unpivot') && previous !== '.' && previous !== 'as')
    return word.toUpperCase()
  if (word === 'glob' && after.startsWith("'")) return 'GLOB'
  if (word === 'similar' && next === 'to') return 'SIMILAR TO'
  if (word === 'all' && previous === 'by') return 'GROUP BY ALL / ORDER BY ALL'
  return undefined
}

/** Operators Spark SQL reads as DuckDB does. */
const OPERATORS = new Set([
  '=',
  '==',
  '<>',
  '!=',
  '<',
  '>',
  '<=',
  '>=',
  '+',
  '-',
  '*',
  '/',
  '%',
  '||',
  '(',
  ')',
  ',',
  '.',
])

/** DuckDB types that Spark SQL spells otherwise (only inside CAST/TRY_CAST). */
const TYPE_NAMES: Readonly<Record<string, string>> = { varchar: 'STRING', text: 'STRING' }
const SPARK_TYPES = new Set([
  'string',
  'boolean',
  'tinyint',
  'smallint',
  'integer',
  'int',
  'bigint',
  'float',
  'double',
  'real',
  'decimal',
  'numeric',
  'date',
  'timestamp',
])

function refuse(construct: string, why: string): never {
  throw new CliError('ERR_SPARK_SQL', `Cannot translate ${construct} to Spark SQL: ${why}`, {
    details: { construct },
  })
}

/**
 * Translate a job query from the DuckDB subset Subrosa accepts to Spark SQL: `$name` parameters
 * become Spark's named markers `:name` (bound by `spark.sql(text, args)`, never spliced),
 * `"identifiers"` become `` `identifiers` ``, string literals get Spark's backslash escapes, and
 * `VARCHAR` in a cast becomes `STRING`. Anything else must read the same in both dialects:
 * functions outside {@link SPARK_FUNCTIONS}, `::` casts, list/struct literals, lambdas,
 * `QUALIFY`, `EXCLUDE`, `GROUP BY ALL`, `FROM`-first queries, positional parameters and more are
 * refused, naming the construct.
 *
 * @example translateSql('SELECT "zone" FROM trips WHERE fare > $min').sql
 * // 'SELECT `zone` FROM trips WHERE fare > :min'
 * @throws CliError `ERR_SPARK_SQL` (`details.construct`).
 */
export function translateSql(query: string): SparkSql {
  const out: string[] = []
  const parameters: string[] = []
  /** Function (or keyword) owning each open parenthesis. */
  const parens: string[] = []
  let previousWord = ''
  /** The last token written (lower case), whitespace and comments aside. */
  let previousToken = ''
  let first = true
  let ended = false
  let i = 0
  const src = query.trim()
  while (i < src.length) {
    const c = src[i] as string
    const rest = src.slice(i)
    if (/\s/.test(c)) {
      const m = /^\s+/.exec(rest)?.[0] ?? c
      out.push(m)
      i += m.length
      continue
    }
    if (rest.startsWith('--')) {
      const end = src.indexOf('\n', i)
      const m = end === -1 ? rest : src.slice(i, end)
      out.push(m)
      i += m.length
      continue
    }
    if (rest.startsWith('/*')) {
      const end = src.indexOf('*/', i + 2)
      if (end === -1) refuse('an unterminated comment', 'the comment never ends')
      out.push(src.slice(i, end + 2))
      i = end + 2
      continue
    }
    if (ended) refuse('a second statement', 'a job query is one SELECT')
    if (first) {
      const word = /^[A-Za-z_]+/.exec(rest)?.[0]?.toLowerCase()
      if (word !== 'select' && word !== 'with' && c !== '(')
        refuse(
          word === 'from' ? 'a FROM-first query' : `a query starting with ${word ?? c}`,
          'a job query is one SELECT (or WITH ... SELECT)',
        )
      first = false
    }
    if (c === "'") {
      let j = i + 1
      let value = ''
      for (;;) {
        if (j >= src.length) refuse('an unterminated string literal', 'the quote never closes')
        if (src[j] === "'") {
          if (src[j + 1] === "'") {
            value += "'"
            j += 2
            continue
          }
          break
        }
        value += src[j]
        j++
      }
      if (/^[eE]$/.test(previousWord) && out.at(-1) === previousWord)
        refuse("an E'...' escape string", 'Spark has no escape-string prefix')
      out.push(`'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`)
      previousWord = ''
      previousToken = "'"
      i = j + 1
      continue
    }
    if (c === '"') {
      const end = src.indexOf('"', i + 1)
      if (end === -1) refuse('an unterminated quoted identifier', 'the quote never closes')
      const name = src.slice(i + 1, end)
      if (name.includes('`') || src[end + 1] === '"')
        refuse(`the identifier ${name}`, 'it contains a quote character')
      out.push(`\`${name}\``)
      previousWord = name
      previousToken = 'identifier'
      i = end + 1
      continue
    }
    if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(rest)
      if (m === null)
        refuse(`the parameter ${rest.slice(0, 4)}`, 'positional parameters are not bound')
      const name = m[1] as string
      if (!parameters.includes(name)) parameters.push(name)
      out.push(`:${name}`)
      previousWord = ''
      previousToken = 'parameter'
      i += m[0].length
      continue
    }
    if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?/.exec(rest)?.[0] ?? c
      if (/^[0-9]*\.?[0-9]*_/.test(rest) || /^[A-Za-z_]/.test(src.slice(i + m.length)))
        refuse(`the number ${rest.slice(0, m.length + 1)}`, 'it is not a plain numeric literal')
      out.push(m)
      previousWord = ''
      previousToken = 'number'
      i += m.length
      continue
    }
    if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest)?.[0] as string
      const lower = word.toLowerCase()
      const after = src.slice(i + word.length).trimStart()
      const inCast = ['cast', 'try_cast'].includes(parens.at(-1) ?? '')
      const typePosition = inCast && previousWord.toLowerCase() === 'as'
      const keyword = typePosition ? undefined : duckdbOnly(lower, previousToken, after)
      if (keyword !== undefined)
        refuse(keyword, 'it is DuckDB-only syntax (or reads otherwise in Spark SQL 3.5)')
      if (typePosition) {
        const spark = TYPE_NAMES[lower]
        if (spark === undefined && !SPARK_TYPES.has(lower))
          refuse(`the type ${word}`, 'it has no Spark SQL equivalent')
        out.push(spark === undefined || after.startsWith('(') ? word : spark)
        if (after.startsWith('(')) parens.push(`type:${lower}`)
        previousWord = word
        previousToken = after.startsWith('(') ? '(' : lower
        i += word.length
        const ws = /^\s*/.exec(src.slice(i))?.[0] ?? ''
        if (after.startsWith('(')) {
          out.push(`${ws}(`)
          i += ws.length + 1
        }
        continue
      }
      if (after.startsWith('(')) {
        if (!PAREN_KEYWORDS.has(lower) && !SPARK_FUNCTIONS.has(lower))
          refuse(
            `the function ${lower}()`,
            'it is DuckDB-only or means something else in Spark SQL',
          )
      }
      out.push(word)
      previousWord = word
      previousToken = lower
      i += word.length
      if (after.startsWith('(')) {
        const ws = /^\s*/.exec(src.slice(i))?.[0] ?? ''
        out.push(`${ws}(`)
        parens.push(lower)
        previousToken = '('
        i += ws.length + 1
      }
      continue
    }
    if (c === ';') {
      ended = true
      i++
      continue
    }
    const op = ['==', '<>', '!=', '<=', '>=', '||', '::', '//', '**', '->', '->>'].find((o) =>
      rest.startsWith(o),
    )
    const token = op ?? c
    if (token === '::') refuse('a :: cast', 'write CAST(x AS type)')
    if (!OPERATORS.has(token))
      refuse(`the operator ${token}`, 'it is DuckDB-only or means something else in Spark SQL')
    if (token === '(') parens.push('(')
    if (token === ')') parens.pop()
    out.push(token)
    previousWord = ''
    previousToken = token
    i += token.length
  }
  if (first) refuse('an empty query', 'there is nothing to run')
  return { sql: out.join('').trim(), parameters }
}
