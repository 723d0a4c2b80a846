import { writeFile } from 'node:fs/promises'
import {
  type ColumnKey,
  createInMemoryKms,
  decryptParquet,
  decryptParquetWithKms,
  encodeKeyMaterialSidecar,
  encryptParquet,
  encryptParquetWithKms,
  type KeyMaterialStore,
  type KeyRetriever,
  type ParquetDecryptStats,
  type ParquetEncryptStats,
  type PmeAlgorithm,
} from '@subrosa/crypto'
import { type Command, positionals, stringOption } from '../command.ts'
import { formatBytes } from '../output.ts'
import {
  aadPrefix,
  groupByMasterKey,
  KEY_HELP,
  masterKeys,
  outputOf,
  pairs,
  rawKey,
  sidecarBeside,
  sidecarFor,
  transcode,
  usage,
} from './parquet-io.ts'

const COMMON = {
  output: { type: 'string', short: 'o', value: 'file', description: 'Output file (mode 0600)' },
  'kms-key': {
    type: 'string',
    value: 'id=hex',
    multiple: true,
    description: 'A master key for an in-memory KMS; keys then name master key ids',
  },
  'aad-prefix': { type: 'string', value: 'utf8', description: 'AAD prefix (file identity)' },
} as const

/** `subrosa parquet encrypt` */
export const parquetEncrypt: Command = {
  path: ['parquet', 'encrypt'],
  summary: 'Encrypt a plaintext Parquet file with PME under keys given here (offline).',
  usage:
    '<in.parquet> -o <out.parquet> --footer-key <hex|id> [--column-key <column>=<hex|id>]... [options]',
  description:
    'Without --kms-key, --footer-key and --column-key are raw AES keys (hex or @file; files need the same keys\n' +
    'to decrypt). With --kms-key <id>=<hex> (repeatable) they name master keys instead: fresh data keys are\n' +
    "wrapped into PKMT1 key material as parquet-java's key tools do, so Spark and pyarrow read the file through\n" +
    'a KMS client. Columns without a key stay plaintext unless --complete-columns. Keys on a command line are\n' +
    'visible to other local users: prefer @file.',
  json: true,
  options: {
    ...COMMON,
    'footer-key': {
      type: 'string',
      value: 'hex|id',
      description: `Footer key: ${KEY_HELP}, or master key id`,
    },
    'column-key': {
      type: 'string',
      value: 'column=hex|id',
      multiple: true,
      description: 'Key of a column (dotted path, e.g. address.zip)',
    },
    algorithm: {
      type: 'string',
      value: 'name',
      description: 'AES_GCM_V1 | AES_GCM_CTR_V1',
      default: 'AES_GCM_V1',
    },
    'plaintext-footer': {
      type: 'boolean',
      description: 'Signed plaintext footer (legacy readers see plaintext columns)',
    },
    'supply-aad-prefix': {
      type: 'boolean',
      description: 'Do not store the AAD prefix: readers must supply it',
    },
    'complete-columns': {
      type: 'boolean',
      description: 'Encrypt columns without a key with the footer key',
    },
    'keep-bloom-filters': {
      type: 'boolean',
      description: 'Keep bloom filters (DuckDB 1.5 cannot read them encrypted)',
    },
    'external-key-material': {
      type: 'boolean',
      description: 'With --kms-key: write key material to _KEY_MATERIAL_FOR_<out>.json (rotatable)',
    },
    'single-wrapping': {
      type: 'boolean',
      description: 'With --kms-key: wrap data keys directly by the KMS',
    },
  },
  async run(inv) {
    const [input = ''] = positionals(inv, this, ['in.parquet'])
    const output = outputOf(inv)
    const algorithm = stringOption(inv, 'algorithm') ?? 'AES_GCM_V1'
    if (algorithm !== 'AES_GCM_V1' && algorithm !== 'AES_GCM_CTR_V1')
      usage('--algorithm must be AES_GCM_V1 or AES_GCM_CTR_V1')
    const footer = stringOption(inv, 'footer-key') ?? usage('--footer-key is required')
    const prefix = aadPrefix(inv)
    if (inv.options['supply-aad-prefix'] === true && prefix === undefined)
      usage('--supply-aad-prefix needs --aad-prefix')
    const common = {
      algorithm: algorithm as PmeAlgorithm,
      plaintextFooter: inv.options['plaintext-footer'] === true,
      ...(prefix === undefined ? {} : { aadPrefix: prefix }),
      storeAadPrefix: inv.options['supply-aad-prefix'] !== true,
      bloomFilters:
        inv.options['keep-bloom-filters'] === true ? ('keep' as const) : ('drop' as const),
      // Without column keys every column takes the footer key (uniform encryption).
      otherColumns:
        inv.options['complete-columns'] === true || pairs(inv, 'column-key').length === 0
          ? ('footer-key' as const)
          : ('plaintext' as const),
    }
    const masters = masterKeys(inv)
    const columns = pairs(inv, 'column-key')
    // Keys and master key ids are checked before any file is opened.
    let encrypt: (
      source: Parameters<typeof encryptParquet>[0],
      sink: Parameters<typeof encryptParquet>[1],
      onProgress: (done: number, total: number) => void,
    ) => Promise<ParquetEncryptStats & { keyMaterial?: KeyMaterialStore }>
    if (Object.keys(masters).length === 0) {
      const footerKey = rawKey(inv, footer as string, 'footer key')
      const columnKeys: Record<string, ColumnKey> = {}
      for (const [column, value] of columns)
        columnKeys[column] = { key: rawKey(inv, value, `key of ${column}`) }
      encrypt = (source, sink, onProgress) =>
        encryptParquet(source, sink, { ...common, footerKey, columnKeys, onProgress })
    } else {
      const known = (id: string) => (id in masters ? id : usage(`No --kms-key ${id} was given`))
      const masterKeyId = known(footer as string)
      const columnMasterKeys = groupByMasterKey(columns.map(([column, id]) => [column, known(id)]))
      encrypt = (source, sink, onProgress) =>
        encryptParquetWithKms(source, sink, {
          ...common,
          masterKeyId,
          columnMasterKeys,
          kms: createInMemoryKms(masters),
          kmsInstanceId: 'subrosa-local',
          kmsInstanceUrl: 'local',
          doubleWrapping: inv.options['single-wrapping'] !== true,
          internalStorage: inv.options['external-key-material'] !== true,
          onProgress,
        })
    }
    let sidecar: string | undefined
    const r = await transcode(inv, input, output, 'encrypt', async (source, sink, onProgress) => {
      const stats = await encrypt(source, sink, onProgress)
      if (stats.keyMaterial !== undefined) sidecar = encodeKeyMaterialSidecar(stats.keyMaterial)
      return stats
    })
    const sidecarPath = sidecar === undefined ? undefined : sidecarBeside(inv, output)
    if (sidecar !== undefined && sidecarPath !== undefined) {
      await writeFile(sidecarPath, sidecar, { mode: 0o600 })
    }
    inv.io.out(
      inv.json
        ? JSON.stringify({
            output,
            ...(sidecarPath === undefined ? {} : { keyMaterial: sidecarPath }),
            ...r,
          })
        : `Encrypted ${input} -> ${output} (${algorithm}, ${formatBytes(r.bytesOut)})${sidecarPath === undefined ? '' : `; key material in ${sidecarPath}`}`,
    )
    return 0
  },
}

/** `subrosa parquet decrypt` */
export const parquetDecrypt: Command = {
  path: ['parquet', 'decrypt'],
  summary: 'Decrypt a PME Parquet file with keys given here (offline) into plaintext Parquet.',
  usage:
    '<in.parquet> -o <out.parquet> [--footer-key <hex>] [--column-key <column>=<hex>]... [--kms-key <id>=<hex>]... [options]',
  description:
    'Every module is authenticated before it is written (CTR pages cannot be). With --kms-key, PKMT1 key\n' +
    'material in the file (or in _KEY_MATERIAL_FOR_<in>.json beside it, or --key-material) is unwrapped with\n' +
    'those master keys. Columns without a key are an error unless --skip-unreadable-columns leaves them out.',
  json: true,
  options: {
    ...COMMON,
    'footer-key': { type: 'string', value: 'hex', description: `Footer key: ${KEY_HELP}` },
    'column-key': {
      type: 'string',
      value: 'column=hex',
      multiple: true,
      description: 'Key of a column',
    },
    'key-material': {
      type: 'string',
      value: 'file',
      description: 'Sidecar of external key material',
    },
    'skip-unreadable-columns': { type: 'boolean', description: 'Leave out columns without a key' },
  },
  async run(inv) {
    const [input = ''] = positionals(inv, this, ['in.parquet'])
    const output = outputOf(inv)
    const prefix = aadPrefix(inv)
    const masters = masterKeys(inv)
    const unreadableColumns =
      inv.options['skip-unreadable-columns'] === true ? ('drop' as const) : ('error' as const)
    const common = { ...(prefix === undefined ? {} : { aadPrefix: prefix }), unreadableColumns }
    // Keys and key material are read before any file is opened.
    let decrypt: (
      source: Parameters<typeof decryptParquet>[0],
      sink: Parameters<typeof decryptParquet>[1],
      onProgress: (done: number, total: number) => void,
    ) => Promise<ParquetDecryptStats>
    if (Object.keys(masters).length > 0) {
      const keyMaterial = sidecarFor(inv, input)
      decrypt = (source, sink, onProgress) =>
        decryptParquetWithKms(source, sink, {
          ...common,
          kms: createInMemoryKms(masters),
          ...(keyMaterial === undefined ? {} : { keyMaterial }),
          onProgress,
        })
    } else {
      const footerValue = stringOption(inv, 'footer-key')
      const footer = footerValue === undefined ? undefined : rawKey(inv, footerValue, 'footer key')
      const columns = new Map(
        pairs(inv, 'column-key').map(([c, v]) => [c, rawKey(inv, v, `key of ${c}`)]),
      )
      const keyRetriever: KeyRetriever = (_metadata, target) =>
        target.kind === 'footer' ? footer : columns.get(target.path.join('.'))
      decrypt = (source, sink, onProgress) =>
        decryptParquet(source, sink, { ...common, keyRetriever, onProgress })
    }
    let dropped: string[] = []
    const r = await transcode(inv, input, output, 'decrypt', async (source, sink, onProgress) => {
      const stats = await decrypt(source, sink, onProgress)
      dropped = stats.droppedColumns
      return stats
    })
    inv.io.out(
      inv.json
        ? JSON.stringify({ output, droppedColumns: dropped, ...r })
        : `Decrypted ${input} -> ${output} (${formatBytes(r.bytesOut)})${dropped.length > 0 ? `; left out ${dropped.join(', ')}` : ''}`,
    )
    return 0
  },
}
