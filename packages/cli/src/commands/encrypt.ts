import { resolve } from 'node:path'
import {
  createInMemoryKms,
  decryptParquetWithKms,
  decryptStreamWithKms,
  encryptParquetWithKms,
  encryptStreamWithKms,
  type KmsClient,
  readStreamHeader,
} from '@subrosa/crypto'
import { masterKeyId } from '@subrosa/protocol'
import { createOwnerKms, openFileSource } from '@subrosa/sdk'
import { type Command, type Invocation, type OptionSpec, positionals } from '../command.ts'
import { brokerClient, OWNER_OPTIONS } from '../config.ts'
import { formatBytes } from '../output.ts'
import {
  chunkSizeOption,
  type FileFormat,
  formatOption,
  formatToDecrypt,
  formatToEncrypt,
  sniffMagic,
} from './file-format.ts'
import { groupByMasterKey, masterKeys, pairs, transcode, usage } from './parquet-io.ts'

/** Options of commands that use a KMS: the broker as the owner, or --kms-key in memory. */
export const KMS_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  ...OWNER_OPTIONS,
  'kms-key': {
    type: 'string',
    value: 'id=hex',
    multiple: true,
    description:
      'Master key for an in-memory KMS, not the broker (id: [subrosa:]<ns>/<name>; hex or @file)',
  },
}

const COMMON: Readonly<Record<string, OptionSpec>> = {
  ...KMS_OPTIONS,
  format: {
    type: 'string',
    value: 'parquet|stream',
    description: 'Override the format chosen from the file (PAR1, PARE or .parquet: parquet)',
  },
  progress: {
    type: 'boolean',
    description: 'Show progress on stderr even when it is not a terminal (never with --json)',
  },
}

/** `subrosa encrypt` */
export const encrypt: Command = {
  path: ['encrypt'],
  summary:
    'Encrypt a file under a master key: Parquet with PME, any other file (CSV, JSON lines, ...) as a stream.',
  usage:
    '<in> <out> --key <namespace>/<name> [--format parquet|stream] [--column-key <column>=<namespace>/<name>]... [options]',
  description:
    'Parquet (PAR1 or PARE magic, or a .parquet name): uniform AES_GCM_V1 with an encrypted footer and a\n' +
    'fresh 256-bit data key, wrapped (PKMT1, double wrapping) by the master key; Spark (parquet-java), pyarrow\n' +
    'and DuckDB read the result given the key. With --column-key, those columns get their own data keys under\n' +
    'their own master keys: a workload granted --key but not a column key reads the file without that column.\n' +
    "Any other file: Subrosa's streaming AEAD format (SRSA: chunked AES-256-GCM, docs/formats.md) under a\n" +
    'fresh data key that the master key wraps into its header; one chunk in memory at a time.\n' +
    'Master keys live in the broker (the owner key signs the calls) or, with --kms-key, in memory here.\n' +
    '<out> is written to a temporary file and renamed into place only when complete.',
  json: true,
  options: {
    ...COMMON,
    key: { type: 'string', value: 'ns/name', description: 'Master key to encrypt under' },
    'column-key': {
      type: 'string',
      value: 'column=ns/name',
      multiple: true,
      description: 'Parquet: a column under its own master key',
    },
    'chunk-size': {
      type: 'string',
      value: 'size',
      description: 'Stream: plaintext bytes per chunk, a power of two from 4KiB to 16MiB (1MiB)',
    },
  },
  async run(inv) {
    const [input = '', output = ''] = positionals(inv, this, ['in', 'out'])
    const id = keyId(inv.options.key)
    const columnMasterKeys = groupByMasterKey(
      pairs(inv, 'column-key').map(([column, ref]) => [
        column,
        keyId(ref, `--column-key ${column}=`),
      ]),
    )
    const chunkSize = chunkSizeOption(inv)
    const format = formatToEncrypt(input, await magicOf(inv, input), formatOption(inv))
    if (format === 'stream' && Object.keys(columnMasterKeys).length > 0)
      usage('--column-key is for Parquet files; a stream file has one key')
    if (format === 'parquet' && chunkSize !== undefined)
      usage('--chunk-size is for stream files; Parquet keeps its pages')
    const r = await withKms(inv, async (kms, url) => {
      let chunks: { chunks: number; chunkSize: number } | undefined
      const sizes = await transcode(inv, input, output, 'encrypt', async (source, sink, p) => {
        if (format === 'parquet') {
          return encryptParquetWithKms(source, sink, {
            masterKeyId: id,
            columnMasterKeys,
            otherColumns: 'footer-key',
            kms,
            kmsInstanceId: url === undefined ? 'subrosa-local' : 'subrosa',
            kmsInstanceUrl: url ?? 'local',
            onProgress: p,
          })
        }
        chunks = await encryptStreamWithKms(source, sink, {
          kms,
          masterKeyId: id,
          ...(chunkSize === undefined ? {} : { chunkSize }),
          onProgress: (done) => p(done, source.size),
        })
        return chunks
      })
      return { ...sizes, ...(chunks === undefined ? {} : chunks) }
    })
    const summary = {
      format,
      input,
      output,
      keyId: id,
      ...(format === 'parquet' ? { masterKeyId: id } : {}),
      bytes: r.bytesIn,
      ...r,
    }
    inv.io.out(
      inv.json
        ? JSON.stringify(summary)
        : `Encrypted ${input} -> ${output} (${describe(format, r.bytesIn, r)}) under ${id}`,
    )
    return 0
  },
}

/** `subrosa decrypt` */
export const decrypt: Command = {
  path: ['decrypt'],
  summary:
    'Decrypt a PME Parquet file or a stream file as its owner (the master key unwraps the data key).',
  usage: '<in> <out> [--format parquet|stream] [options]',
  description:
    'The format is read from the file (SRSA: stream; PAR1, PARE or a .parquet name: parquet). Every\n' +
    'Parquet module and every stream chunk is authenticated before it is written: a cut, reordered or\n' +
    'foreign chunk is an error with its own code (ERR_STREAM_TRUNCATED, ERR_STREAM_REORDERED,\n' +
    'ERR_STREAM_CHUNK_AUTH), a wrong key ERR_STREAM_HEADER_AUTH, and nothing is left at <out> (an existing\n' +
    '<out> is untouched). The plaintext file is created with mode 0600.',
  json: true,
  options: COMMON,
  async run(inv) {
    const [input = '', output = ''] = positionals(inv, this, ['in', 'out'])
    const format = formatToDecrypt(input, await magicOf(inv, input), formatOption(inv))
    const r = await withKms(inv, async (kms) => {
      const used: string[] = []
      const recording: KmsClient = {
        wrapKey: (key, id) => kms.wrapKey(key, id),
        unwrapKey: (wrapped, id) => {
          if (!used.includes(id)) used.push(id)
          return kms.unwrapKey(wrapped, id)
        },
      }
      let chunks: { chunks: number; chunkSize: number } | undefined
      const sizes = await transcode(inv, input, output, 'decrypt', async (source, sink, p) => {
        if (format === 'parquet')
          return decryptParquetWithKms(source, sink, { kms: recording, onProgress: p })
        const total = await plaintextSize(source)
        const r = await decryptStreamWithKms(source, sink, {
          kms: recording,
          onProgress: (done) => p(done, total),
        })
        chunks = { chunks: r.chunks, chunkSize: r.header.chunkSize }
        return r
      })
      return { keyId: used[0], ...sizes, ...(chunks === undefined ? {} : chunks) }
    })
    inv.io.out(
      inv.json
        ? JSON.stringify({ format, input, output, bytes: r.bytesOut, ...r })
        : `Decrypted ${input} -> ${output} (${describe(format, r.bytesOut, r)})`,
    )
    return 0
  },
}

/** `Parquet PME, 1.2 MiB` or `stream, 1.2 MiB in 2 chunks of 1.0 MiB` (plaintext sizes). */
function describe(
  format: FileFormat,
  plaintext: number,
  r: { chunks?: number; chunkSize?: number },
): string {
  const size = formatBytes(plaintext)
  return format === 'parquet'
    ? `Parquet PME, ${size}`
    : `stream, ${size} in ${r.chunks} chunk${r.chunks === 1 ? '' : 's'} of ${formatBytes(r.chunkSize ?? 0)}`
}

/** A `<namespace>/<name>` reference as its master key id. */
function keyId(value: unknown, what = '--key'): string {
  const [ns, name, extra] = (typeof value === 'string' ? value : '').split('/')
  if (ns === undefined || ns === '' || name === undefined || name === '' || extra !== undefined)
    usage(`${what} <namespace>/<name> is required`)
  return masterKeyId(ns as string, name as string)
}

/** The magic of the input; a missing file is left for the transcode to report. */
async function magicOf(inv: Invocation, input: string) {
  const source = await openFileSource(resolve(inv.io.cwd, input)).catch(() => undefined)
  if (source === undefined) return 'other'
  try {
    return await sniffMagic(source)
  } finally {
    await source.close()
  }
}

/** Plaintext bytes a stream file holds, from its header; its size when the header is bad. */
async function plaintextSize(source: Parameters<typeof readStreamHeader>[0]): Promise<number> {
  try {
    const { header, length } = await readStreamHeader(source)
    const physical = header.chunkSize + 16
    const chunks = Math.floor((source.size - length) / physical) + 1
    return Math.max(1, source.size - length - 16 * chunks)
  } catch {
    return source.size
  }
}

/** The KMS of the invocation: in memory with --kms-key, else the broker as the owner. */
export async function withKms<T>(
  inv: Invocation,
  work: (kms: KmsClient, brokerUrl: string | undefined) => Promise<T>,
): Promise<T> {
  const given = masterKeys(inv)
  if (Object.keys(given).length > 0) {
    const keys: Record<string, Uint8Array> = {}
    for (const [id, key] of Object.entries(given))
      keys[/^[^:/]+\/[^:/]+$/.test(id) ? keyId(id) : id] = key
    try {
      return await work(createInMemoryKms(keys), undefined)
    } finally {
      for (const key of Object.values(keys)) key.fill(0)
    }
  }
  const client = await brokerClient(inv, true)
  try {
    return await work(createOwnerKms(client), client.url)
  } finally {
    client.close()
  }
}
