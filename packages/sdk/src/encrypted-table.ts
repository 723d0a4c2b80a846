// Tables whose chosen columns hold Always Encrypted cells (written by the engine's `postgres`
// output), read back by a granted consumer. See docs/jobs.md "Always Encrypted".
import {
  AE_ALGORITHM,
  type AeEncryptionType,
  type AeSqlType,
  type AeValue,
  type CellKeys,
  decodeAeValue,
  decryptCell,
  deriveCellKeys,
  encodeAeValue,
  encryptCell,
  type KmsClient,
  parseAeSqlType,
  wipeCellKeys,
} from '@subrosa/crypto'
import { SdkError } from './errors.ts'

/** The part of a SQL client (node-postgres' `Client` fits) these functions use. */
export type SqlClient = {
  query(text: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>
}

/** The table, in the target table's schema, that holds each encrypted column's wrapped key. */
export const COLUMN_KEYS_TABLE = 'subrosa_column_keys'

/** What a reader needs to decrypt one column (one row of {@link COLUMN_KEYS_TABLE}). */
export type ColumnKeyRecord = {
  readonly column: string
  /** SQL Server type of the cell plaintext: `bigint`, `nvarchar`, `decimal(18,2)`, ... */
  readonly sqlType: string
  readonly encryption: AeEncryptionType
  readonly algorithm: string
  readonly masterKeyId: string
  /** The column encryption key, wrapped by the KMS under `masterKeyId`. */
  readonly wrappedCek: string
}

/** A column ready to encrypt or decrypt: its type and the keys derived from its CEK. */
export type ColumnCipher = {
  readonly column: string
  readonly type: AeSqlType
  readonly encryption: AeEncryptionType
  readonly keys: CellKeys
}

/** `"name"` with inner quotes doubled: an identifier safe to put in SQL text. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** A `[schema.]table` name split, and the quoted names of it and of its key table. */
export function tableNames(table: string): {
  readonly schema: string | undefined
  readonly name: string
  readonly quoted: string
  readonly keysTable: string
} {
  const dot = table.indexOf('.')
  const schema = dot === -1 ? undefined : table.slice(0, dot)
  const name = dot === -1 ? table : table.slice(dot + 1)
  const prefix = schema === undefined ? '' : `${quoteIdent(schema)}.`
  return {
    schema,
    name,
    quoted: `${prefix}${quoteIdent(name)}`,
    keysTable: `${prefix}${quoteIdent(COLUMN_KEYS_TABLE)}`,
  }
}

/** `CREATE TABLE IF NOT EXISTS` of the key table beside `table`. */
export function columnKeysTableDdl(table: string): string {
  return `CREATE TABLE IF NOT EXISTS ${tableNames(table).keysTable} (
  table_name text NOT NULL,
  column_name text NOT NULL,
  sql_type text NOT NULL,
  encryption_type text NOT NULL CHECK (encryption_type IN ('deterministic', 'randomized')),
  algorithm text NOT NULL,
  master_key_id text NOT NULL,
  wrapped_cek text NOT NULL,
  PRIMARY KEY (table_name, column_name)
)`
}

/**
 * The key records of `table`'s encrypted columns (none when it has no key table or no entries).
 *
 * @throws SdkError `ERR_SDK_COLUMN_KEYS` for a record with an unknown encryption type.
 */
export async function readColumnKeys(client: SqlClient, table: string): Promise<ColumnKeyRecord[]> {
  const names = tableNames(table)
  const exists = await client.query('SELECT to_regclass($1) IS NOT NULL AS present', [
    names.keysTable,
  ])
  if (exists.rows[0]?.present !== true) return []
  const { rows } = await client.query(
    `SELECT column_name, sql_type, encryption_type, algorithm, master_key_id, wrapped_cek
       FROM ${names.keysTable} WHERE table_name = $1 ORDER BY column_name`,
    [names.name],
  )
  return rows.map((row) => {
    const encryption = row.encryption_type
    if (encryption !== 'deterministic' && encryption !== 'randomized')
      throw new SdkError('ERR_SDK_COLUMN_KEYS', `Column key of ${table} has an unknown type`)
    return {
      column: String(row.column_name),
      sqlType: String(row.sql_type),
      encryption,
      algorithm: String(row.algorithm),
      masterKeyId: String(row.master_key_id),
      wrappedCek: String(row.wrapped_cek),
    }
  })
}

/**
 * Unwrap each column's CEK through the KMS and derive its cell keys. The CEK bytes are wiped.
 *
 * @throws SdkError `ERR_SDK_COLUMN_KEYS` for an algorithm other than AEAD_AES_256_CBC_HMAC_SHA_256;
 * CryptoError `ERR_AE_UNSUPPORTED_TYPE`; the KMS's errors (wrong or unknown master key).
 */
export async function unwrapColumnKeys(
  records: readonly ColumnKeyRecord[],
  kms: KmsClient,
): Promise<Map<string, ColumnCipher>> {
  const out = new Map<string, ColumnCipher>()
  for (const record of records) {
    if (record.algorithm !== AE_ALGORITHM)
      throw new SdkError(
        'ERR_SDK_COLUMN_KEYS',
        `Column ${record.column} uses algorithm ${JSON.stringify(record.algorithm.slice(0, 64))}, not ${AE_ALGORITHM}`,
      )
    const type = parseAeSqlType(record.sqlType)
    const cek = await kms.unwrapKey(record.wrappedCek, record.masterKeyId)
    try {
      out.set(record.column, {
        column: record.column,
        type,
        encryption: record.encryption,
        keys: deriveCellKeys(cek),
      })
    } finally {
      cek.fill(0)
    }
  }
  return out
}

/** Wipe the derived keys of unwrapped columns. */
export function wipeColumnCiphers(ciphers: ReadonlyMap<string, ColumnCipher>): void {
  for (const c of ciphers.values()) wipeCellKeys(c.keys)
}

/** The cell a value of a column encrypts to (for inserts and deterministic lookups). */
export function encryptColumnValue(cipher: ColumnCipher, value: AeValue): Uint8Array {
  return encryptCell(cipher.keys, encodeAeValue(cipher.type, value), cipher.encryption)
}

/** The value a cell of a column holds. @throws CryptoError `ERR_AE_*`. */
export function decryptColumnValue(cipher: ColumnCipher, cell: Uint8Array): AeValue {
  const plaintext = decryptCell(cipher.keys, cell)
  try {
    return decodeAeValue(cipher.type, plaintext)
  } finally {
    plaintext.fill(0)
  }
}

/** Options of {@link readEncryptedTable}. */
export type ReadEncryptedTableOptions = {
  /** `[schema.]table`. */
  readonly table: string
  /** The consumer's KMS; it must be granted unwrap on the columns' master key. */
  readonly kms: KmsClient
  /**
   * Equality filter. On a deterministic column the probe is encrypted and compared as a cell
   * (the database never sees it); on a plain column it is bound as a parameter.
   */
  readonly where?: { readonly column: string; readonly value: AeValue }
}

/** A table read back: columns in table order, encrypted ones decrypted. */
export type EncryptedTableRows = {
  readonly columns: readonly string[]
  readonly encryptedColumns: readonly string[]
  /** Encrypted columns as {@link AeValue}s, plain ones in PostgreSQL's text form; NULL as null. */
  readonly rows: Record<string, AeValue | null>[]
}

/**
 * Read a table written with Always Encrypted columns: unwrap the column keys through `kms`, and
 * decrypt every cell (each is authenticated first).
 *
 * @example const { rows } = await readEncryptedTable(client, { table: 'public.fares', kms })
 * @example await readEncryptedTable(client, { table: 'fares', kms, where: { column: 'vendor', value: 'acme' } })
 * @throws SdkError `ERR_SDK_COLUMN_KEYS` (no such table, bad key records), `ERR_SDK_LOOKUP`
 * (filter on an unknown or randomized column); CryptoError `ERR_AE_*` for a tampered cell or a
 * wrong key; the KMS's errors.
 */
export async function readEncryptedTable(
  client: SqlClient,
  options: ReadEncryptedTableOptions,
): Promise<EncryptedTableRows> {
  const names = tableNames(options.table)
  const { rows: columnRows } = await client.query(
    `SELECT column_name FROM information_schema.columns
      WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2
      ORDER BY ordinal_position`,
    [names.schema ?? null, names.name],
  )
  const columns = columnRows.map((r) => String(r.column_name))
  if (columns.length === 0)
    throw new SdkError('ERR_SDK_COLUMN_KEYS', `Table ${options.table} does not exist`)
  const ciphers = await unwrapColumnKeys(await readColumnKeys(client, options.table), options.kms)
  try {
    const values: unknown[] = []
    let where = ''
    if (options.where !== undefined) {
      const { column, value } = options.where
      if (!columns.includes(column))
        throw new SdkError('ERR_SDK_LOOKUP', `Table ${options.table} has no column ${column}`)
      const cipher = ciphers.get(column)
      if (cipher?.encryption === 'randomized')
        throw new SdkError(
          'ERR_SDK_LOOKUP',
          `Column ${column} is randomized: equality lookups need a deterministic column`,
        )
      values.push(
        cipher === undefined
          ? value instanceof Uint8Array
            ? Buffer.from(value)
            : String(value)
          : Buffer.from(encryptColumnValue(cipher, value)),
      )
      where = ` WHERE ${quoteIdent(column)} = $1`
    }
    const list = columns
      .map((c) => (ciphers.has(c) ? quoteIdent(c) : `${quoteIdent(c)}::text AS ${quoteIdent(c)}`))
      .join(', ')
    const { rows } = await client.query(`SELECT ${list} FROM ${names.quoted}${where}`, values)
    const out = rows.map((row) => {
      const plain: Record<string, AeValue | null> = {}
      for (const c of columns) {
        const v = row[c]
        const cipher = ciphers.get(c)
        if (v === null || v === undefined) plain[c] = null
        else if (cipher === undefined) plain[c] = String(v)
        else plain[c] = decryptColumnValue(cipher, new Uint8Array(v as Uint8Array))
      }
      return plain
    })
    return { columns, encryptedColumns: [...ciphers.keys()], rows: out }
  } finally {
    wipeColumnCiphers(ciphers)
  }
}
