// Shared by the parquet commands: the transcode loop with progress and atomic output, and the
// reading of keys, master keys, AAD prefixes and key material sidecars from options.
import { existsSync, readFileSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fromHex } from '@subrosa/core'
import {
  type KeyMaterialStore,
  keyMaterialSidecarName,
  parseKeyMaterialSidecar,
} from '@subrosa/crypto'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import { type Command, type Invocation, listOption, stringOption } from '../command.ts'
import { CliError } from '../errors.ts'
import { progressBar } from '../output.ts'

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
  const bar = progressFor(inv, label)
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

/**
 * The progress bar of a file command: on a terminal after a moment (so short runs print nothing),
 * always with `--progress` (a line a second when stderr is not a terminal), never with `--json`.
 */
export function progressFor(inv: Invocation, label: string): ReturnType<typeof progressBar> {
  const asked = inv.options.progress === true
  return progressBar(!inv.json && (asked || inv.io.stderrIsTty), inv.io.err, label, {
    tty: inv.io.stderrIsTty,
    delayMs: asked ? 0 : 300,
  })
}

export const KEY_HELP = 'hex AES key (32, 48 or 64 hex digits) or @file holding it'

export const usage = (message: string): never => {
  throw new CliError('ERR_CLI_USAGE', message)
}

/** A raw AES key from hex or `@file`; never echoed in errors. */
export function rawKey(inv: Invocation, value: string, what: string): Uint8Array {
  let text = value
  if (value.startsWith('@')) {
    try {
      text = readFileSync(resolve(inv.io.cwd, value.slice(1)), 'utf8').trim()
    } catch (cause) {
      throw new CliError('ERR_CLI_FILE', `Cannot read the ${what} from ${value.slice(1)}`, {
        cause,
      })
    }
  }
  const key = /^([0-9a-fA-F]{32}|[0-9a-fA-F]{48}|[0-9a-fA-F]{64})$/.test(text)
    ? fromHex(text)
    : undefined
  if (key === undefined) usage(`The ${what} must be ${KEY_HELP}`)
  return key as Uint8Array
}

/** `name=value` pairs of a repeatable option. */
export function pairs(inv: Invocation, option: string): [string, string][] {
  return listOption(inv, option).map((entry) => {
    const at = entry.indexOf('=')
    if (at <= 0 || at === entry.length - 1) usage(`--${option} takes <name>=<value>`)
    return [entry.slice(0, at), entry.slice(at + 1)]
  })
}

export function masterKeys(inv: Invocation, option = 'kms-key'): Record<string, Uint8Array> {
  const keys: Record<string, Uint8Array> = {}
  for (const [id, value] of pairs(inv, option)) {
    if (id in keys) usage(`--${option} ${id} is given twice`)
    keys[id] = rawKey(inv, value, `master key ${id}`)
  }
  return keys
}

export function aadPrefix(inv: Invocation): Uint8Array | undefined {
  const prefix = stringOption(inv, 'aad-prefix')
  return prefix === undefined ? undefined : new TextEncoder().encode(prefix)
}

export function outputOf(inv: Invocation): string {
  const output = stringOption(inv, 'output')
  if (output === undefined) usage('-o, --output <file> is required')
  return output as string
}

/** `_KEY_MATERIAL_FOR_<file>.json` beside `file`. */
export function sidecarBeside(inv: Invocation, file: string): string {
  const path = resolve(inv.io.cwd, file)
  return join(dirname(path), keyMaterialSidecarName(basename(path)))
}

/** parquet-java's `column.keys` grouping: master key id -> its columns, in the order given. */
export function groupByMasterKey(
  columns: readonly (readonly [column: string, masterKeyId: string])[],
): Record<string, string[]> {
  const grouped: Record<string, string[]> = {}
  for (const [column, id] of columns) grouped[id] = [...(grouped[id] ?? []), column]
  return grouped
}

/** Where the sidecar of `input` is: --key-material, or beside it when it exists. */
export function sidecarPath(inv: Invocation, input: string): string | undefined {
  const given = stringOption(inv, 'key-material')
  const beside = sidecarBeside(inv, input)
  return given === undefined
    ? existsSync(beside)
      ? beside
      : undefined
    : resolve(inv.io.cwd, given)
}

/** The sidecar of `input`: --key-material, or `_KEY_MATERIAL_FOR_<input>.json` beside it. */
export function sidecarFor(inv: Invocation, input: string): KeyMaterialStore | undefined {
  const file = sidecarPath(inv, input)
  if (file === undefined) return undefined
  try {
    return parseKeyMaterialSidecar(readFileSync(file, 'utf8'))
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ERR_PARQUET_KEY_MATERIAL') throw cause
    throw new CliError('ERR_CLI_FILE', `Cannot read the key material ${file}`, { cause })
  }
}
