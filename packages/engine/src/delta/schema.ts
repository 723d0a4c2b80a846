// Delta table schemas (PROTOCOL.md, "Schema Serialization Format") to and from DuckDB types, and
// partition values (PROTOCOL.md, "Partition Value Serialization") as SQL expressions. Partition
// values are bound parameters in SQL, never spliced into it.
import { type DuckDBType, DuckDBTypeId } from '@duckdb/node-api'
import { z } from 'zod'
import { EngineError } from '../errors.ts'
import { logError } from './actions.ts'

/** A Delta data type: a primitive name, or a struct, array or map. */
export type DeltaType =
  | string
  | { readonly type: 'struct'; readonly fields: readonly DeltaField[] }
  | { readonly type: 'array'; readonly elementType: DeltaType; readonly containsNull: boolean }
  | {
      readonly type: 'map'
      readonly keyType: DeltaType
      readonly valueType: DeltaType
      readonly valueContainsNull: boolean
    }

export type DeltaField = {
  readonly name: string
  readonly type: DeltaType
  readonly nullable: boolean
  readonly metadata: Readonly<Record<string, unknown>>
}

export type DeltaStruct = { readonly type: 'struct'; readonly fields: readonly DeltaField[] }

const fieldSchema: z.ZodType<DeltaField> = z.lazy(() =>
  z.object({
    name: z.string().min(1),
    type: typeSchema,
    nullable: z.boolean(),
    metadata: z.record(z.string(), z.unknown()).default({}),
  }),
)
const structSchema = z.object({ type: z.literal('struct'), fields: z.array(fieldSchema) })
const typeSchema: z.ZodType<DeltaType> = z.lazy(() =>
  z.union([
    z.string(),
    structSchema,
    z.object({ type: z.literal('array'), elementType: typeSchema, containsNull: z.boolean() }),
    z.object({
      type: z.literal('map'),
      keyType: typeSchema,
      valueType: typeSchema,
      valueContainsNull: z.boolean(),
    }),
  ]),
)

/**
 * Parse a `metaData.schemaString`.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_LOG` when it is not a Delta struct schema.
 */
export function parseSchemaString(schemaString: string): DeltaStruct {
  let json: unknown
  try {
    json = JSON.parse(schemaString)
  } catch {
    throw logError('metaData', 'schemaString is not JSON')
  }
  const parsed = structSchema.safeParse(json)
  if (!parsed.success) throw logError('metaData', 'schemaString is not a struct schema')
  return parsed.data
}

const PRIMITIVES: Record<string, string> = {
  string: 'VARCHAR',
  long: 'BIGINT',
  integer: 'INTEGER',
  short: 'SMALLINT',
  byte: 'TINYINT',
  float: 'FLOAT',
  double: 'DOUBLE',
  boolean: 'BOOLEAN',
  binary: 'BLOB',
  date: 'DATE',
  timestamp: 'TIMESTAMPTZ',
  timestamp_ntz: 'TIMESTAMP',
}
const DECIMAL = /^decimal\(\s*(\d{1,2})\s*,\s*(\d{1,2})\s*\)$/

/** A SQL identifier, double-quoted. */
export function sqlIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/**
 * The DuckDB SQL type of a Delta type.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_UNSUPPORTED` for a type DuckDB has no equivalent of.
 */
export function duckDbTypeOf(type: DeltaType): string {
  if (typeof type === 'string') {
    const primitive = PRIMITIVES[type]
    if (primitive !== undefined) return primitive
    const decimal = DECIMAL.exec(type)
    if (decimal !== null) return `DECIMAL(${decimal[1]}, ${decimal[2]})`
    throw new EngineError('ERR_ENGINE_DELTA_UNSUPPORTED', `Delta type ${type} is not supported`)
  }
  if (type.type === 'array') return `${duckDbTypeOf(type.elementType)}[]`
  if (type.type === 'map')
    return `MAP(${duckDbTypeOf(type.keyType)}, ${duckDbTypeOf(type.valueType)})`
  return `STRUCT(${type.fields.map((f) => `${sqlIdent(f.name)} ${duckDbTypeOf(f.type)}`).join(', ')})`
}

function schemaError(what: string): EngineError {
  return new EngineError('ERR_ENGINE_DELTA_SCHEMA', what)
}

/**
 * The Delta type of a DuckDB result column. TIMESTAMP (without time zone) is refused: Delta's
 * `timestamp_ntz` needs a table feature this writer does not write; cast to TIMESTAMPTZ.
 *
 * @throws EngineError `ERR_ENGINE_DELTA_SCHEMA` for a type Delta has no equivalent of.
 */
export function deltaTypeOf(type: DuckDBType, column: string): DeltaType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return 'boolean'
    case DuckDBTypeId.TINYINT:
      return 'byte'
    case DuckDBTypeId.SMALLINT:
      return 'short'
    case DuckDBTypeId.INTEGER:
      return 'integer'
    case DuckDBTypeId.BIGINT:
      return 'long'
    case DuckDBTypeId.FLOAT:
      return 'float'
    case DuckDBTypeId.DOUBLE:
      return 'double'
    case DuckDBTypeId.VARCHAR:
      return 'string'
    case DuckDBTypeId.BLOB:
      return 'binary'
    case DuckDBTypeId.DATE:
      return 'date'
    case DuckDBTypeId.TIMESTAMP_TZ:
      return 'timestamp'
    case DuckDBTypeId.DECIMAL: {
      const { width, scale } = type as DuckDBType & { width: number; scale: number }
      return `decimal(${width},${scale})`
    }
    case DuckDBTypeId.LIST: {
      const { valueType } = type as DuckDBType & { valueType: DuckDBType }
      return { type: 'array', elementType: deltaTypeOf(valueType, column), containsNull: true }
    }
    case DuckDBTypeId.MAP: {
      const { keyType, valueType } = type as DuckDBType & {
        keyType: DuckDBType
        valueType: DuckDBType
      }
      return {
        type: 'map',
        keyType: deltaTypeOf(keyType, column),
        valueType: deltaTypeOf(valueType, column),
        valueContainsNull: true,
      }
    }
    case DuckDBTypeId.STRUCT: {
      const { entryNames, entryTypes } = type as DuckDBType & {
        entryNames: string[]
        entryTypes: DuckDBType[]
      }
      return {
        type: 'struct',
        fields: entryNames.map((name, i) => ({
          name,
          type: deltaTypeOf(entryTypes[i] as DuckDBType, column),
          nullable: true,
          metadata: {},
        })),
      }
    }
    case DuckDBTypeId.TIMESTAMP:
      throw schemaError(
        `Column ${column} is a TIMESTAMP without time zone: cast it to TIMESTAMPTZ (Delta timestamp_ntz is not written)`,
      )
    default:
      throw schemaError(`Column ${column} has type ${type.toString()}, which Delta has no type for`)
  }
}

/** A type with nullability flags and metadata dropped, for comparing schemas. */
function typeShape(type: DeltaType): unknown {
  if (typeof type === 'string') return type.replaceAll(' ', '')
  if (type.type === 'array') return ['array', typeShape(type.elementType)]
  if (type.type === 'map') return ['map', typeShape(type.keyType), typeShape(type.valueType)]
  return ['struct', type.fields.map((f) => [f.name, typeShape(f.type)])]
}

/** Whether two Delta types are the same, nullability aside. */
export function sameType(a: DeltaType, b: DeltaType): boolean {
  return JSON.stringify(typeShape(a)) === JSON.stringify(typeShape(b))
}

/** Types a partition column may have. */
const PARTITION_TYPES = /^(string|long|integer|short|byte|boolean|date|timestamp|decimal\(.*\))$/

/**
 * A SQL expression giving a column's Delta partition value (VARCHAR; NULL for null).
 *
 * @throws EngineError `ERR_ENGINE_DELTA_SCHEMA` for a type that cannot partition a table here.
 */
export function partitionValueSql(field: DeltaField): string {
  const column = sqlIdent(field.name)
  if (typeof field.type !== 'string' || !PARTITION_TYPES.test(field.type))
    throw schemaError(
      `Column ${field.name} cannot be a partition column (its type is not supported)`,
    )
  if (field.type === 'timestamp')
    return `strftime(timezone('UTC', ${column}), '%Y-%m-%d %H:%M:%S.%f')`
  return `CAST(${column} AS VARCHAR)`
}

/**
 * A SQL expression turning a bound partition value (`$parameter`, a VARCHAR) into the column's
 * type; `NULL` of that type when the value is null or empty (as the protocol says).
 *
 * @throws EngineError `ERR_ENGINE_DELTA_UNSUPPORTED` for a type that is not a partition type.
 */
export function partitionColumnSql(
  field: DeltaField,
  value: string | null | undefined,
  parameter: string,
): string {
  if (typeof field.type !== 'string' || field.type === 'binary')
    throw new EngineError(
      'ERR_ENGINE_DELTA_UNSUPPORTED',
      `Partition column ${field.name} has a type that is not supported`,
    )
  const type = duckDbTypeOf(field.type)
  if (value === null || value === undefined || value === '') return `CAST(NULL AS ${type})`
  if (field.type === 'timestamp')
    return `CASE WHEN $${parameter} LIKE '%Z' THEN CAST($${parameter} AS TIMESTAMPTZ) ELSE timezone('UTC', CAST($${parameter} AS TIMESTAMP)) END`
  return `CAST($${parameter} AS ${type})`
}

/** Printable characters Hive-style partition directory names escape as `%XX` (and controls). */
const PATH_ESCAPED = new Set('"#%\'*/:=?\\{[]^')

function escapePathName(s: string): string {
  let out = ''
  for (const c of s) {
    const code = c.codePointAt(0) ?? 0
    out +=
      code < 0x20 || code === 0x7f || PATH_ESCAPED.has(c)
        ? `%${code.toString(16).toUpperCase().padStart(2, '0')}`
        : c
  }
  return out
}

/** A partition directory name, `column=value`, escaped Hive-style; null is the default partition. */
export function partitionDirectory(column: string, value: string | null): string {
  return `${escapePathName(column)}=${value === null ? '__HIVE_DEFAULT_PARTITION__' : escapePathName(value)}`
}

/** A relative data file path as the URI the log records (each segment percent-encoded). */
export function encodePath(path: string): string {
  return path
    .split('/')
    .map((s) => encodeURIComponent(s).replaceAll('%3D', '='))
    .join('/')
}
