// How DuckDB result columns become PostgreSQL columns, and encrypted ones Always Encrypted cells.
import {
  DuckDBBlobValue,
  DuckDBDecimalType,
  type DuckDBType,
  DuckDBTypeId,
  type DuckDBValue,
} from '@duckdb/node-api'
import type { AeSqlType, AeValue } from '@subrosa/crypto'
import { EngineError } from '../errors.ts'

type Mapping = { readonly pg: string; readonly ae?: AeSqlType }

const SIMPLE: Partial<Record<DuckDBTypeId, Mapping>> = {
  [DuckDBTypeId.BOOLEAN]: { pg: 'boolean', ae: { name: 'bit' } },
  [DuckDBTypeId.TINYINT]: { pg: 'smallint', ae: { name: 'smallint' } },
  [DuckDBTypeId.UTINYINT]: { pg: 'smallint', ae: { name: 'tinyint' } },
  [DuckDBTypeId.SMALLINT]: { pg: 'smallint', ae: { name: 'smallint' } },
  [DuckDBTypeId.USMALLINT]: { pg: 'integer', ae: { name: 'int' } },
  [DuckDBTypeId.INTEGER]: { pg: 'integer', ae: { name: 'int' } },
  [DuckDBTypeId.UINTEGER]: { pg: 'bigint', ae: { name: 'bigint' } },
  [DuckDBTypeId.BIGINT]: { pg: 'bigint', ae: { name: 'bigint' } },
  [DuckDBTypeId.UBIGINT]: { pg: 'numeric(20,0)', ae: { name: 'decimal', precision: 20, scale: 0 } },
  [DuckDBTypeId.HUGEINT]: { pg: 'numeric(38,0)', ae: { name: 'decimal', precision: 38, scale: 0 } },
  [DuckDBTypeId.FLOAT]: { pg: 'real', ae: { name: 'real' } },
  [DuckDBTypeId.DOUBLE]: { pg: 'double precision', ae: { name: 'float' } },
  [DuckDBTypeId.VARCHAR]: { pg: 'text', ae: { name: 'nvarchar' } },
  [DuckDBTypeId.BLOB]: { pg: 'bytea', ae: { name: 'varbinary' } },
  [DuckDBTypeId.DATE]: { pg: 'date', ae: { name: 'date' } },
  [DuckDBTypeId.TIMESTAMP]: { pg: 'timestamp(6)', ae: { name: 'datetime2', scale: 6 } },
  [DuckDBTypeId.TIMESTAMP_MS]: { pg: 'timestamp(3)', ae: { name: 'datetime2', scale: 3 } },
  [DuckDBTypeId.TIMESTAMP_S]: { pg: 'timestamp(0)', ae: { name: 'datetime2', scale: 0 } },
}

function mapping(type: DuckDBType): Mapping | undefined {
  if (type instanceof DuckDBDecimalType)
    return {
      pg: `numeric(${type.width},${type.scale})`,
      ae: { name: 'decimal', precision: type.width, scale: type.scale },
    }
  return SIMPLE[type.typeId]
}

/**
 * The PostgreSQL type of a plain result column; types without a counterpart here (lists, structs,
 * intervals, ...) are stored as their text form.
 */
export function postgresTypeOf(type: DuckDBType): string {
  return mapping(type)?.pg ?? 'text'
}

/**
 * The SQL Server type an encrypted column's values are normalized as (docs/adr/0020).
 *
 * @throws EngineError `ERR_ENGINE_UNSUPPORTED` for a DuckDB type with no Always Encrypted mapping.
 */
export function aeTypeOf(column: string, type: DuckDBType): AeSqlType {
  const ae = mapping(type)?.ae
  if (ae === undefined)
    throw new EngineError(
      'ERR_ENGINE_UNSUPPORTED',
      `Column ${column} is ${type.toString()}, which cannot be stored as an Always Encrypted cell`,
    )
  return ae
}

/** A DuckDB value as the plain value of an Always Encrypted cell. */
export function aeValueOf(value: DuckDBValue): AeValue {
  if (
    typeof value === 'bigint' ||
    typeof value === 'number' ||
    typeof value === 'string' ||
    typeof value === 'boolean'
  )
    return value
  if (value instanceof DuckDBBlobValue) return value.bytes
  // DATE, TIMESTAMP and DECIMAL values print as YYYY-MM-DD, YYYY-MM-DD HH:MM:SS[.ffffff], 12.340.
  return String(value)
}

/** A DuckDB value as a node-postgres parameter (text, or bytes for bytea). */
export function postgresValueOf(value: DuckDBValue): string | number | boolean | Buffer | null {
  if (value === null) return null
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string')
    return value
  if (value instanceof DuckDBBlobValue) return Buffer.from(value.bytes)
  return String(value)
}
