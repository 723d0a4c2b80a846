import type { AeValue } from '@subrosa/crypto'
import { readEncryptedTable } from '@subrosa/sdk'
import pg from 'pg'
import { type Command, positionals, stringOption } from '../command.ts'
import { CliError } from '../errors.ts'
import { renderTable } from '../output.ts'
import { KMS_OPTIONS, withKms } from './encrypt.ts'
import { usage } from './parquet-io.ts'

/** `subrosa sql decrypt` */
export const sqlDecrypt: Command = {
  path: ['sql', 'decrypt'],
  summary:
    "Read a PostgreSQL table written by a job's postgres output, decrypting its Always Encrypted columns.",
  usage: '<postgres-uri> --table [schema.]table [--where column=value] [--csv] [options]',
  description:
    'The column encryption keys recorded in subrosa_column_keys are unwrapped through the KMS (the broker\n' +
    'as the owner, or --kms-key in memory): a consumer must be granted unwrap on the master key. Every cell is\n' +
    'authenticated before it is decrypted; a changed cell fails with ERR_AE_CELL_AUTH, a wrong key with the\n' +
    "KMS's code. --where on a deterministic column encrypts the value and compares cells, so the database\n" +
    'never sees it; on a plain column the value is a bound parameter; randomized columns cannot be compared\n' +
    '(ERR_SDK_LOOKUP). The password comes from PGPASSWORD, never from the URI. Plaintext goes to stdout only.',
  json: true,
  options: {
    ...KMS_OPTIONS,
    table: { type: 'string', value: '[schema.]table', description: 'The table to read' },
    where: {
      type: 'string',
      value: 'column=value',
      description: 'Only rows whose column equals the value (deterministic or plain columns)',
    },
    csv: { type: 'boolean', description: 'Print CSV (a header line, then one line per row)' },
  },
  async run(inv) {
    const [uri = ''] = positionals(inv, this, ['postgres-uri'])
    if (!/^postgres(ql)?:\/\//.test(uri)) usage('<postgres-uri> must be postgres://user@host/db')
    const table = stringOption(inv, 'table')
    if (table === undefined || !/^([A-Za-z_][\w$]*\.)?[A-Za-z_][\w$]*$/.test(table))
      usage('--table [schema.]table is required')
    if (inv.json && inv.options.csv === true) usage('--json and --csv exclude each other')
    const whereText = stringOption(inv, 'where')
    const at = whereText?.indexOf('=') ?? -1
    if (whereText !== undefined && at <= 0) usage('--where takes <column>=<value>')
    const where =
      whereText === undefined
        ? undefined
        : { column: whereText.slice(0, at), value: whereText.slice(at + 1) }
    const password = inv.io.env.PGPASSWORD
    const client = new pg.Client({
      connectionString: uri,
      ...(password === undefined ? {} : { password }),
    })
    await client.connect().catch((cause: unknown) => {
      throw new CliError(
        'ERR_CLI_DATABASE',
        `Cannot connect to ${redact(uri)} (${sqlState(cause)})`,
      )
    })
    try {
      const result = await withKms(inv, (kms) =>
        readEncryptedTable(client, {
          table: table as string,
          kms,
          ...(where === undefined ? {} : { where }),
        }),
      ).catch((error: unknown) => {
        if (error instanceof pg.DatabaseError)
          throw new CliError(
            'ERR_CLI_DATABASE',
            `PostgreSQL refused the query (${sqlState(error)})`,
          )
        throw error
      })
      const { columns, rows } = result
      if (inv.json) {
        inv.io.out(
          JSON.stringify({
            table,
            columns,
            encryptedColumns: result.encryptedColumns,
            rows: rows.map((row) => Object.fromEntries(columns.map((c) => [c, json(row[c])]))),
          }),
        )
      } else if (inv.options.csv === true) {
        const lines = [columns.map(csvField).join(',')]
        for (const row of rows)
          lines.push(columns.map((c) => (row[c] === null ? '' : csvField(text(row[c])))).join(','))
        inv.io.out(lines.join('\n'))
      } else {
        inv.io.out(
          `${table}: ${rows.length} row${rows.length === 1 ? '' : 's'}, encrypted columns: ${
            result.encryptedColumns.join(', ') || 'none'
          }`,
        )
        inv.io.out(
          renderTable(
            columns,
            rows.map((row) =>
              columns.map((c) => (row[c] instanceof Uint8Array ? text(row[c]) : row[c])),
            ),
          ),
        )
      }
      return 0
    } finally {
      await client.end().catch(() => {})
    }
  },
}

function text(value: AeValue | null | undefined): string {
  if (value === null || value === undefined) return ''
  if (value instanceof Uint8Array) return `\\x${Buffer.from(value).toString('hex')}`
  return String(value)
}

/** JSON for a value: bigint and bytes as text (`\x` hex), others as they are. */
function json(value: AeValue | null | undefined): string | number | boolean | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'bigint' || value instanceof Uint8Array) return text(value)
  return value
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value
}

function sqlState(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? `SQLSTATE ${code}` : 'no answer'
}

/** The URI without a password, should one have been given. */
function redact(uri: string): string {
  try {
    const url = new URL(uri)
    url.password = ''
    return url.toString()
  } catch {
    return 'the database'
  }
}
