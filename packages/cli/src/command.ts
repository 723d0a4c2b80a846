import { parseArgs } from 'node:util'
import { CliError } from './errors.ts'

/** One option of a command. */
export type OptionSpec = {
  readonly type: 'string' | 'boolean'
  readonly description: string
  readonly short?: string
  readonly multiple?: boolean
  readonly value?: string
  readonly default?: string
}

/** Parsed invocation handed to a command. */
export type Invocation = {
  readonly options: Readonly<Record<string, string | boolean | string[] | undefined>>
  readonly positionals: readonly string[]
  /** Arguments after `--` (for `launch`). */
  readonly rest: readonly string[]
  readonly json: boolean
  readonly io: Io
}

/** Where a command writes: results to stdout, progress and diagnostics to stderr. */
export type Io = {
  out(text: string): void
  err(text: string): void
  readonly stderrIsTty: boolean
  readonly env: Readonly<Record<string, string | undefined>>
  readonly cwd: string
}

/** A command of the `subrosa` CLI. */
export type Command = {
  readonly path: readonly string[]
  readonly summary: string
  readonly usage: string
  readonly description?: string
  readonly options: Readonly<Record<string, OptionSpec>>
  /** Whether the command prints results and so takes `--json`. */
  readonly json: boolean
  readonly restArgs?: boolean
  run(invocation: Invocation): Promise<number>
}

const HELP: OptionSpec = { type: 'boolean', short: 'h', description: 'Show this help' }
const JSON_OPTION: OptionSpec = {
  type: 'boolean',
  description: 'Print the result as JSON on stdout',
}

/** All options a command accepts, including the implicit --help and --json. */
export function optionsOf(command: Command): Record<string, OptionSpec> {
  return { ...command.options, ...(command.json ? { json: JSON_OPTION } : {}), help: HELP }
}

/**
 * Parse a command's arguments strictly: unknown options and missing values are usage errors.
 *
 * @throws CliError `ERR_CLI_USAGE`.
 */
export function parseInvocation(
  command: Command,
  args: readonly string[],
  io: Io,
): Invocation & { help: boolean } {
  const specs = optionsOf(command)
  const split = args.indexOf('--')
  const own = command.restArgs === true && split !== -1 ? args.slice(0, split) : args
  const rest = command.restArgs === true && split !== -1 ? args.slice(split + 1) : []
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args: [...own],
      allowPositionals: true,
      strict: true,
      options: Object.fromEntries(
        Object.entries(specs).map(([name, s]) => [
          name,
          {
            type: s.type,
            ...(s.short === undefined ? {} : { short: s.short }),
            ...(s.multiple === true ? { multiple: true } : {}),
          },
        ]),
      ),
    })
  } catch (cause) {
    throw new CliError(
      'ERR_CLI_USAGE',
      `${(cause as Error).message.split('\n')[0]} (see subrosa ${command.path.join(' ')} --help)`,
    )
  }
  const options = { ...(parsed.values as Record<string, string | boolean | string[] | undefined>) }
  for (const [name, s] of Object.entries(specs))
    if (options[name] === undefined && s.default !== undefined) options[name] = s.default
  return {
    options,
    positionals: parsed.positionals,
    rest,
    json: options.json === true,
    io,
    help: options.help === true,
  }
}

/** `--help` text of a command. */
export function helpText(command: Command): string {
  const lines = [
    `Usage: subrosa ${command.path.join(' ')} ${command.usage}`.trimEnd(),
    '',
    command.summary,
  ]
  if (command.description !== undefined) lines.push('', command.description)
  lines.push('', 'Options:')
  const rows = Object.entries(optionsOf(command)).map(([name, s]) => {
    const flag = `${s.short === undefined ? '    ' : `-${s.short}, `}--${name}${s.type === 'string' ? ` <${s.value ?? 'value'}>` : ''}`
    const extra = [
      s.multiple === true ? 'repeatable' : '',
      s.default === undefined ? '' : `default: ${s.default}`,
    ].filter((x) => x !== '')
    return [flag, `${s.description}${extra.length > 0 ? ` (${extra.join('; ')})` : ''}`] as const
  })
  const width = Math.max(...rows.map(([f]) => f.length)) + 2
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`)
  return `${lines.join('\n')}\n`
}

/** A string option's value, or undefined. */
export function stringOption(inv: Invocation, name: string): string | undefined {
  const v = inv.options[name]
  return typeof v === 'string' ? v : undefined
}

/** A repeatable string option's values. */
export function listOption(inv: Invocation, name: string): string[] {
  const v = inv.options[name]
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : []
}

/** Exactly `count` positionals, named for the error message. */
export function positionals(inv: Invocation, command: Command, names: readonly string[]): string[] {
  if (inv.positionals.length !== names.length) {
    throw new CliError(
      'ERR_CLI_USAGE',
      `Expected ${names.map((n) => `<${n}>`).join(' ')} (see subrosa ${command.path.join(' ')} --help)`,
    )
  }
  return [...inv.positionals]
}
