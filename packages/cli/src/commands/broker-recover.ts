import { existsSync } from 'node:fs'
import { readFile, rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import {
  parseRecoveryShare,
  type RecoveryShareFile,
  recoverBroker,
  rekeyBroker,
  type StartBrokerOptions,
} from '@subrosa/broker'
import { fromBase64, systemClock, systemRandom, toBase64 } from '@subrosa/core'
import {
  type Command,
  type Invocation,
  listOption,
  type OptionSpec,
  stringOption,
} from '../command.ts'
import { readText, writePrivateFile } from '../config.ts'
import { CliError } from '../errors.ts'

/**
 * Read a 32-byte key stored as base64 in a file (unseal key, KEK).
 *
 * @throws CliError `ERR_CLI_FILE`.
 */
export async function readKeyFile(file: string, what: string): Promise<Uint8Array> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `Cannot read ${what}: ${file}`, { cause })
  }
  const key = fromBase64(text.trim())
  if (key === undefined || key.length !== 32)
    throw new CliError('ERR_CLI_FILE', `${file} (${what}) must hold 32 bytes in base64`)
  return key
}

/** Options of `broker start` for root key protection and recovery (docs/adr/0011). */
export const RECOVERY_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'kek-file': {
    type: 'string',
    value: 'file',
    description:
      'Operator key-encryption key (base64, 32 bytes) wrapping the sealed root key; then needed at every start',
  },
  'recovery-threshold': {
    type: 'string',
    value: 'k',
    description:
      'Split the root key into k-of-n recovery shares, one per --custodian (once: when the state has none)',
  },
  custodian: {
    type: 'string',
    value: 'name',
    multiple: true,
    description: 'A recovery custodian (n = how many are named)',
  },
  'shares-dir': {
    type: 'string',
    value: 'dir',
    description: 'Where share files are written, 0600 (required with --recovery-threshold)',
  },
}

/** The `kek` and `recovery` options of startBroker from the command line. */
export async function recoveryOptions(
  inv: Invocation,
): Promise<Pick<StartBrokerOptions, 'kek' | 'recovery'>> {
  const { cwd } = inv.io
  const kekFile = stringOption(inv, 'kek-file')
  const threshold = stringOption(inv, 'recovery-threshold')
  const custodians = listOption(inv, 'custodian')
  const sharesDir = stringOption(inv, 'shares-dir')
  if (threshold === undefined && (custodians.length > 0 || sharesDir !== undefined))
    throw new CliError('ERR_CLI_USAGE', '--custodian and --shares-dir need --recovery-threshold')
  const out: { kek?: Uint8Array; recovery?: StartBrokerOptions['recovery'] } = {}
  if (threshold !== undefined) {
    const k = Number(threshold)
    if (!Number.isInteger(k) || k < 1 || k > custodians.length)
      throw new CliError(
        'ERR_CLI_USAGE',
        '--recovery-threshold must be an integer in 1..<number of --custodian>',
      )
    if (sharesDir === undefined)
      throw new CliError('ERR_CLI_USAGE', '--recovery-threshold needs --shares-dir')
    out.recovery = { threshold: k, custodians, sharesDir: resolve(cwd, sharesDir) }
  }
  if (kekFile !== undefined)
    out.kek = await readKeyFile(resolve(cwd, kekFile), 'the key-encryption key')
  return out
}

/** Tell the operator, loudly, what to do with freshly written share files. */
export function reportRecoveryShares(
  inv: Invocation,
  files: readonly (RecoveryShareFile & { readonly path?: string })[],
): void {
  if (files.length === 0) return
  const k = (JSON.parse(files[0]?.text ?? '{}') as { threshold?: number }).threshold
  inv.io.err(
    [
      '',
      '!!! RECOVERY SHARES CREATED !!!',
      `Any ${k} of these ${files.length} files rebuild this broker's root key, and with it every key and secret it holds:`,
      ...files.map((f) => `  ${f.custodian}: ${f.path ?? f.fileName}`),
      'Hand each file to its custodian over a trusted channel, have them store it offline, and then',
      'DELETE the files from this host. Recover with `subrosa broker recover --share <file> ...`.',
      '',
      '',
    ].join('\n'),
  )
}

/** Read a key file, or create it (0600) with a fresh random key when it does not exist. */
async function newKeyFile(
  file: string,
  what: string,
): Promise<{ key: Uint8Array; created: boolean }> {
  if (existsSync(file)) return { key: await readKeyFile(file, what), created: false }
  const key = systemRandom(32)
  await writePrivateFile(file, `${toBase64(key)}\n`)
  return { key, created: true }
}

/** Where the state of a stopped broker is: its data dir (PGlite) or PostgreSQL. */
const STOPPED_BROKER_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'data-dir': {
    type: 'string',
    value: 'dir',
    description: 'Data directory of the stopped broker',
    default: '.subrosa',
  },
  postgres: {
    type: 'string',
    value: 'url',
    description: 'The PostgreSQL store of the stopped brokers (env SUBROSA_POSTGRES)',
  },
}

/** `subrosa broker rekey` */
export const brokerRekey: Command = {
  path: ['broker', 'rekey'],
  summary: 'Rotate the unseal key (and optionally the KEK) of a stopped broker.',
  usage: '--unseal-key-file <file> --new-unseal-key-file <file> [options]',
  description:
    'Opens the root key with the current unseal key (and --kek-file when the state has a KEK) and\n' +
    're-seals it under the new unseal key and --new-kek-file (the current KEK stays when omitted;\n' +
    'a state without a KEK gains one). New key files are created (0600) when they do not exist.\n' +
    'The root key, every sealed value and every recovery share stay valid. Audited as broker.rekey.',
  json: true,
  options: {
    ...STOPPED_BROKER_OPTIONS,
    'unseal-key-file': { type: 'string', value: 'file', description: 'Current unseal key' },
    'kek-file': { type: 'string', value: 'file', description: 'Current key-encryption key' },
    'new-unseal-key-file': {
      type: 'string',
      value: 'file',
      description: 'New unseal key (base64, 32 bytes); created when absent',
    },
    'new-kek-file': {
      type: 'string',
      value: 'file',
      description: 'New key-encryption key (base64, 32 bytes); created when absent',
    },
  },
  async run(inv) {
    const { cwd } = inv.io
    const dataDir = resolve(cwd, stringOption(inv, 'data-dir') ?? '.subrosa')
    const oldFile = stringOption(inv, 'unseal-key-file')
    const newFile = stringOption(inv, 'new-unseal-key-file')
    if (oldFile === undefined || newFile === undefined)
      throw new CliError(
        'ERR_CLI_USAGE',
        '--unseal-key-file and --new-unseal-key-file are required',
      )
    const unsealKey = await readKeyFile(resolve(cwd, oldFile), 'the unseal key')
    const kekFile = stringOption(inv, 'kek-file')
    const kek =
      kekFile === undefined
        ? undefined
        : await readKeyFile(resolve(cwd, kekFile), 'the key-encryption key')
    const created: string[] = []
    const make = async (file: string, what: string) => {
      const made = await newKeyFile(file, what)
      if (made.created) created.push(file)
      return made.key
    }
    const keys: Uint8Array[] = [unsealKey, ...(kek === undefined ? [] : [kek])]
    try {
      const newUnsealKeyFile = resolve(cwd, newFile)
      const newUnsealKey = await make(newUnsealKeyFile, 'the new unseal key')
      keys.push(newUnsealKey)
      const newKekOption = stringOption(inv, 'new-kek-file')
      const newKekFile = newKekOption === undefined ? undefined : resolve(cwd, newKekOption)
      const newKek =
        newKekFile === undefined ? undefined : await make(newKekFile, 'the new key-encryption key')
      if (newKek !== undefined) keys.push(newKek)
      const result = await rekeyBroker({
        dataDir,
        postgres: stringOption(inv, 'postgres') ?? inv.io.env.SUBROSA_POSTGRES,
        unsealKey,
        kek,
        newUnsealKey,
        newKek,
        clock: systemClock,
        random: systemRandom,
      })
      inv.io.out(
        inv.json
          ? JSON.stringify({
              ok: true,
              ...result,
              unsealKeyFile: newUnsealKeyFile,
              kekFile: newKekFile,
            })
          : `Re-sealed the root key under ${newUnsealKeyFile}${result.kek ? ` and ${result.kekChanged ? newKekFile : 'the current KEK'}` : ''}.\n` +
              'The old unseal key no longer opens this broker; destroy it once the new one is stored safely.',
      )
      return 0
    } catch (error) {
      for (const file of created) await rm(file, { force: true })
      throw error
    } finally {
      for (const k of keys) k.fill(0)
    }
  },
}

/** `subrosa broker recover` */
export const brokerRecover: Command = {
  path: ['broker', 'recover'],
  summary: "Rebuild a stopped broker's root key from k custodian shares under a new unseal key.",
  usage: '--share <file> --share <file> ... --new-unseal-key-file <file> [options]',
  description:
    'For a lost unseal key. The shares (files written by `broker start --recovery-threshold`) must be\n' +
    'at least k distinct ones of this broker; the rebuilt key is checked against the stored check\n' +
    'value, then sealed under the new unseal key (created, 0600, when the file does not exist) and,\n' +
    'when the state has one, the KEK (--kek-file: the old or a new KEK). Fewer shares, foreign,\n' +
    'corrupted or forged ones change nothing. Audited as broker.recover (custodian names only).',
  json: true,
  options: {
    ...STOPPED_BROKER_OPTIONS,
    share: {
      type: 'string',
      value: 'file',
      multiple: true,
      description: 'A custodian share file',
    },
    'new-unseal-key-file': {
      type: 'string',
      value: 'file',
      description: 'New unseal key (base64, 32 bytes); created when absent',
    },
    'kek-file': {
      type: 'string',
      value: 'file',
      description: 'Key-encryption key to seal with (required when the broker has one)',
    },
  },
  async run(inv) {
    const { cwd } = inv.io
    const dataDir = resolve(cwd, stringOption(inv, 'data-dir') ?? '.subrosa')
    const keyOption = stringOption(inv, 'new-unseal-key-file')
    if (keyOption === undefined)
      throw new CliError('ERR_CLI_USAGE', '--new-unseal-key-file is required')
    const shareFiles = listOption(inv, 'share').map((f) => resolve(cwd, f))
    if (shareFiles.length === 0) throw new CliError('ERR_CLI_USAGE', 'Give --share at least once')
    const shares = []
    for (const file of shareFiles)
      shares.push(parseRecoveryShare(await readText(file, 'a recovery share'), file))
    const kekFile = stringOption(inv, 'kek-file')
    const kek =
      kekFile === undefined
        ? undefined
        : await readKeyFile(resolve(cwd, kekFile), 'the key-encryption key')
    const keyFile = resolve(cwd, keyOption)
    const { key: newUnsealKey, created } = await newKeyFile(keyFile, 'the new unseal key')
    try {
      const result = await recoverBroker({
        dataDir,
        postgres: stringOption(inv, 'postgres') ?? inv.io.env.SUBROSA_POSTGRES,
        shares,
        newUnsealKey,
        kek,
        clock: systemClock,
        random: systemRandom,
      })
      inv.io.out(
        inv.json
          ? JSON.stringify({ ok: true, ...result, unsealKeyFile: keyFile, kek: kek !== undefined })
          : `Recovered the root key of broker ${result.broker} from the shares of ${result.custodians.join(', ')} (${result.threshold} needed).\n` +
              `It is now sealed under ${keyFile}${kek === undefined ? '' : ' and the KEK'}; start the broker with --unseal-key-file ${keyFile}.\n` +
              'The old unseal key no longer opens it. Custodians keep their shares: they still rebuild this root key.',
      )
      return 0
    } catch (error) {
      if (created) await rm(keyFile, { force: true })
      throw error
    } finally {
      newUnsealKey.fill(0)
      kek?.fill(0)
    }
  },
}
