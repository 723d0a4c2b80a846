import { resolve } from 'node:path'
import { decryptParquetWithKms, encryptParquetWithKms, inspectParquet } from '@subrosa/crypto'
import { masterKeyId } from '@subrosa/protocol'
import { createAtomicFileSink, createOwnerKms, openFileSource } from '@subrosa/sdk'
import { type Command, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS } from '../config.ts'
import { CliError } from '../errors.ts'
import { formatBytes, progressBar } from '../output.ts'

export async function transcode(
  inv: Parameters<Command['run']>[0],
  input: string,
  output: string,
  label: string,
  work: (
    source: Awaited<ReturnType<typeof openFileSource>>,
    sink: Awaited<ReturnType<typeof createAtomicFileSink>>,
    onProgress: (d: number, t: number) => void,
  ) => Promise<unknown>,
): Promise<{ bytesIn: number; bytesOut: number }> {
  const source = await openFileSource(resolve(inv.io.cwd, input)).catch((cause: unknown) => {
    throw new CliError('ERR_CLI_FILE', `Cannot read ${input}`, { cause })
  })
  const sink = await createAtomicFileSink(resolve(inv.io.cwd, output), 0o600).catch(
    (cause: unknown) => {
      throw new CliError('ERR_CLI_FILE', `Cannot write ${output}`, { cause })
    },
  )
  const bar = progressBar(inv.io.stderrIsTty && !inv.json, inv.io.err, label)
  try {
    await work(source, sink, (d, t) => bar.update(d, t))
    await sink.commit()
    return { bytesIn: source.size, bytesOut: sink.written }
  } catch (error) {
    await sink.abort()
    throw error
  } finally {
    bar.done()
    await source.close()
  }
}

/** `subrosa encrypt` */
export const encrypt: Command = {
  path: ['encrypt'],
  summary: 'Encrypt a Parquet file with Parquet Modular Encryption under a broker master key.',
  usage: '<in.parquet> <out.parquet> --key <namespace>/<name> [options]',
  description:
    'Uniform AES_GCM_V1 with an encrypted footer and a fresh 256-bit data key, wrapped (PKMT1, double wrapping)\n' +
    'by the master key in the broker. Spark (parquet-java), pyarrow and DuckDB read the result given the key.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    key: { type: 'string', value: 'ns/name', description: 'Master key to encrypt under' },
  },
  async run(inv) {
    const [input = '', output = ''] = positionals(inv, this, ['in.parquet', 'out.parquet'])
    const key = stringOption(inv, 'key')
    const [ns, name, extra] = (key ?? '').split('/')
    if (ns === undefined || name === undefined || extra !== undefined || ns === '')
      throw new CliError('ERR_CLI_USAGE', '--key <namespace>/<name> is required')
    const client = await brokerClient(inv, true)
    try {
      const kms = createOwnerKms(client)
      const id = masterKeyId(ns, name)
      const r = await transcode(inv, input, output, 'encrypt', (source, sink, onProgress) =>
        encryptParquetWithKms(source, sink, {
          masterKeyId: id,
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
    "Show a Parquet file's encryption facts (algorithm, key material, sizes) without any key.",
  usage: '<file.parquet>',
  json: true,
  options: {},
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['file.parquet'])
    const source = await openFileSource(resolve(inv.io.cwd, file)).catch((cause: unknown) => {
      throw new CliError('ERR_CLI_FILE', `Cannot read ${file}`, { cause })
    })
    try {
      const info = await inspectParquet(source)
      inv.io.out(
        inv.json
          ? JSON.stringify(info, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))
          : renderInfo(info as unknown as Record<string, unknown>),
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
