import { resolve } from 'node:path'
import {
  createInMemoryKms,
  inspectParquet,
  readParquetFooter,
  unwrapFooterKey,
} from '@subrosa/crypto'
import { openFileSource } from '@subrosa/sdk'
import { type Command, positionals, stringOption } from '../command.ts'
import { CliError } from '../errors.ts'
import { aadPrefix, masterKeys, rawKey, sidecarFor } from './parquet-io.ts'

/** `subrosa parquet inspect` */
export const parquetInspect: Command = {
  path: ['parquet', 'inspect'],
  summary:
    "Show a Parquet file's encryption facts (algorithm, footer mode, key metadata), never key bytes.",
  usage: '<file.parquet> [--footer-key <hex> | --kms-key <id>=<hex>...] [--json]',
  description:
    'Without keys: what the file shows to anyone (an encrypted footer hides the schema and which columns\n' +
    'are encrypted). With the footer key (raw, or master keys for its PKMT1 material) the footer is\n' +
    'authenticated and read: rows, columns, and each column: plaintext, footer key, or column key and its\n' +
    'key metadata.',
  json: true,
  options: {
    'footer-key': { type: 'string', value: 'hex', description: 'Footer key (hex or @file)' },
    'kms-key': {
      type: 'string',
      value: 'id=hex',
      multiple: true,
      description: 'Master key for the footer key material (in-memory KMS)',
    },
    'key-material': {
      type: 'string',
      value: 'file',
      description: 'Sidecar of external key material',
    },
    'aad-prefix': { type: 'string', value: 'utf8', description: 'AAD prefix the file needs' },
  },
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['file.parquet'])
    const source = await openFileSource(resolve(inv.io.cwd, file)).catch((cause: unknown) => {
      throw new CliError('ERR_CLI_FILE', `Cannot read ${file}`, { cause })
    })
    try {
      let info: Record<string, unknown> = { ...(await inspectParquet(source)) }
      const footerKey = stringOption(inv, 'footer-key')
      const masters = masterKeys(inv)
      if (info.encrypted === true && (footerKey !== undefined || Object.keys(masters).length > 0)) {
        const keyMaterial = sidecarFor(inv, file)
        const prefix = aadPrefix(inv)
        const dek =
          footerKey !== undefined
            ? rawKey(inv, footerKey, 'footer key')
            : (
                await unwrapFooterKey(source, createInMemoryKms(masters), {
                  ...(keyMaterial === undefined ? {} : { keyMaterial }),
                  ...(prefix === undefined ? {} : { aadPrefix: prefix }),
                })
              ).dek
        try {
          const footer = await readParquetFooter(source, {
            keyRetriever: () => dek,
            ...(prefix === undefined ? {} : { aadPrefix: prefix }),
          })
          const { footerKeyMetadata: _raw, encrypted: _e, ...facts } = footer
          info = { ...info, ...facts }
        } finally {
          dek.fill(0)
        }
      }
      inv.io.out(
        inv.json
          ? JSON.stringify(info, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))
          : renderInfo(info),
      )
    } finally {
      await source.close()
    }
    return 0
  },
}

function renderInfo(info: Record<string, unknown>): string {
  return Object.entries(info)
    .map(
      ([k, v]) =>
        `  ${k.padEnd(22)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`,
    )
    .join('\n')
}
