import { resolve } from 'node:path'
import {
  createInMemoryKms,
  decryptParquetWithKms,
  encryptParquetWithKms,
  inspectParquet,
  readParquetFooter,
  unwrapFooterKey,
} from '@subrosa/crypto'
import { masterKeyId } from '@subrosa/protocol'
import { createOwnerKms, openFileSource } from '@subrosa/sdk'
import { type Command, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS } from '../config.ts'
import { CliError } from '../errors.ts'
import { formatBytes } from '../output.ts'
import {
  aadPrefix,
  groupByMasterKey,
  masterKeys,
  pairs,
  rawKey,
  sidecarFor,
  transcode,
  usage,
} from './parquet-io.ts'

/** `subrosa encrypt` */
export const encrypt: Command = {
  path: ['encrypt'],
  summary: 'Encrypt a Parquet file with Parquet Modular Encryption under a broker master key.',
  usage:
    '<in.parquet> <out.parquet> --key <namespace>/<name> [--column-key <column>=<namespace>/<name>]... [options]',
  description:
    'Uniform AES_GCM_V1 with an encrypted footer and a fresh 256-bit data key, wrapped (PKMT1, double wrapping)\n' +
    'by the master key in the broker. Spark (parquet-java), pyarrow and DuckDB read the result given the key.\n' +
    'With --column-key, those columns get their own data keys under their own master keys: a workload granted\n' +
    '--key but not a column key reads the file without that column. DuckDB then reads it through Subrosa.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    key: { type: 'string', value: 'ns/name', description: 'Master key to encrypt under' },
    'column-key': {
      type: 'string',
      value: 'column=ns/name',
      multiple: true,
      description: 'A column under its own master key',
    },
  },
  async run(inv) {
    const [input = '', output = ''] = positionals(inv, this, ['in.parquet', 'out.parquet'])
    const key = stringOption(inv, 'key')
    const [ns, name, extra] = (key ?? '').split('/')
    if (ns === undefined || name === undefined || extra !== undefined || ns === '')
      throw new CliError('ERR_CLI_USAGE', '--key <namespace>/<name> is required')
    const columnMasterKeys = groupByMasterKey(
      pairs(inv, 'column-key').map(([column, ref]) => {
        const [cns, cname, rest] = ref.split('/')
        if (cns === undefined || cns === '' || cname === undefined || rest !== undefined)
          usage(`--column-key ${column}= must name <namespace>/<name>`)
        return [column, masterKeyId(cns as string, cname as string)] as const
      }),
    )
    const client = await brokerClient(inv, true)
    try {
      const kms = createOwnerKms(client)
      const id = masterKeyId(ns, name)
      const r = await transcode(inv, input, output, 'encrypt', (source, sink, onProgress) =>
        encryptParquetWithKms(source, sink, {
          masterKeyId: id,
          columnMasterKeys,
          otherColumns: 'footer-key',
          kms,
          kmsInstanceId: 'subrosa',
          kmsInstanceUrl: client.url,
          onProgress,
        }),
      )
      inv.io.out(
        inv.json
          ? JSON.stringify({ output, masterKeyId: id, ...r })
          : `Encrypted ${input} -> ${output} under ${id} (${formatBytes(r.bytesOut)})`,
      )
    } finally {
      client.close()
    }
    return 0
  },
}

/** `subrosa decrypt` */
export const decrypt: Command = {
  path: ['decrypt'],
  summary: 'Decrypt a PME Parquet file as its owner (the master key is unwrapped by the broker).',
  usage: '<in.parquet> <out.parquet> [options]',
  description:
    'The plaintext file is created with mode 0600. Every module is authenticated; tampering is an error.',
  json: true,
  options: OWNER_OPTIONS,
  async run(inv) {
    const [input = '', output = ''] = positionals(inv, this, ['in.parquet', 'out.parquet'])
    const client = await brokerClient(inv, true)
    try {
      const kms = createOwnerKms(client)
      const r = await transcode(inv, input, output, 'decrypt', (source, sink, onProgress) =>
        decryptParquetWithKms(source, sink, { kms, onProgress }),
      )
      inv.io.out(
        inv.json
          ? JSON.stringify({ output, ...r })
          : `Decrypted ${input} -> ${output} (${formatBytes(r.bytesOut)})`,
      )
    } finally {
      client.close()
    }
    return 0
  },
}

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
