// `subrosa parquet rotate-keys`: master-key rotation for files with external key material.
import { utf8 } from '@subrosa/core'
import {
  createInMemoryKms,
  encodeKeyMaterialSidecar,
  rotateKeyMaterial,
  unwrapKeyMaterial,
} from '@subrosa/crypto'
import { createAtomicFileSink } from '@subrosa/sdk'
import { type Command, positionals } from '../command.ts'
import { CliError } from '../errors.ts'
import { masterKeys, sidecarFor, sidecarPath, usage } from './parquet-io.ts'

/** `subrosa parquet rotate-keys` */
export const parquetRotateKeys: Command = {
  path: ['parquet', 'rotate-keys'],
  summary:
    "Re-wrap a file's external key material under new master keys; the data file is not touched.",
  usage:
    '<file.parquet> --kms-key <id>=<hex>... --new-kms-key <id>=<hex>... [--key-material <file>]',
  description:
    'Every entry of _KEY_MATERIAL_FOR_<file>.json (or --key-material) is unwrapped with the current master keys\n' +
    'and wrapped again with the new ones (same ids, fresh KEKs), checked, and the sidecar replaced atomically.\n' +
    'Files whose key material is inside them cannot be rotated this way: re-encrypt them.',
  json: true,
  options: {
    'kms-key': {
      type: 'string',
      value: 'id=hex',
      multiple: true,
      description: 'Current master key',
    },
    'new-kms-key': {
      type: 'string',
      value: 'id=hex',
      multiple: true,
      description: 'New master key',
    },
    'key-material': {
      type: 'string',
      value: 'file',
      description: 'Sidecar (default: beside the file)',
    },
  },
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['file.parquet'])
    const from = masterKeys(inv, 'kms-key')
    const to = masterKeys(inv, 'new-kms-key')
    if (Object.keys(from).length === 0 || Object.keys(to).length === 0)
      usage('--kms-key and --new-kms-key are both required')
    const path = sidecarPath(inv, file)
    const store = sidecarFor(inv, file)
    if (path === undefined || store === undefined) {
      throw new CliError(
        'ERR_CLI_USAGE',
        `${file} has no external key material to rotate (no sidecar beside it; re-encrypt instead)`,
      )
    }
    const newKms = createInMemoryKms(to)
    const rotated = await rotateKeyMaterial(store, { from: createInMemoryKms(from), to: newKms })
    for (const entry of rotated.values()) {
      const { dek } = await unwrapKeyMaterial(utf8(entry), newKms)
      dek.fill(0)
    }
    const sink = await createAtomicFileSink(path, 0o600)
    try {
      await sink.write(utf8(encodeKeyMaterialSidecar(rotated)))
      await sink.commit()
    } catch (error) {
      await sink.abort()
      throw error
    }
    inv.io.out(
      inv.json
        ? JSON.stringify({ keyMaterial: path, entries: [...rotated.keys()] })
        : `Rotated ${rotated.size} key(s) in ${path}; ${file} is unchanged`,
    )
    return 0
  },
}
