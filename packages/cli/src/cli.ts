import { isSubrosaError } from '@subrosa/core'
import { type Command, helpText, type Io, parseInvocation } from './command.ts'
import { COMMANDS } from './commands/index.ts'
import { CliError } from './errors.ts'

/** The top-level `subrosa --help`. */
export function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.path.join(' ').length)) + 2
  return [
    'Usage: subrosa <command> [options]',
    '',
    'Confidential analytics: SQL over encrypted data inside attested TEEs.',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.path.join(' ').padEnd(width)}${c.summary}`),
    '',
    "Run `subrosa <command> --help` for a command's options. Errors print a stable code (docs/errors.md).",
    '',
  ].join('\n')
}

function findCommand(args: readonly string[]): { command: Command; rest: string[] } | undefined {
  const matches = COMMANDS.filter((c) => c.path.every((p, i) => args[i] === p)).sort(
    (a, b) => b.path.length - a.path.length,
  )
  const command = matches[0]
  return command === undefined ? undefined : { command, rest: args.slice(command.path.length) }
}

/**
 * Run the CLI with `args` (without `node` and the script). Returns the exit code: 0 success,
 * 1 failure (an error code is printed), 2 usage error.
 */
export async function main(args: readonly string[], io: Io): Promise<number> {
  if (args.length === 0 || args[0] === '--help' || args[0] === '-h' || args[0] === 'help') {
    io.out(mainHelp())
    return args.length === 0 ? 2 : 0
  }
  const found = findCommand(args)
  if (found === undefined) {
    io.err(`error ERR_CLI_USAGE: unknown command "${args.slice(0, 2).join(' ')}"\n\n${mainHelp()}`)
    return 2
  }
  const wantsJson = found.command.json && found.rest.includes('--json')
  try {
    const invocation = parseInvocation(found.command, found.rest, io)
    if (invocation.help) {
      io.out(helpText(found.command))
      return 0
    }
    return await found.command.run(invocation)
  } catch (error) {
    const e = isSubrosaError(error) ? error : undefined
    const code = e?.code ?? 'ERR_CLI_INTERNAL'
    const message = e?.message ?? (error instanceof Error ? error.message : String(error))
    if (wantsJson)
      io.out(
        JSON.stringify({
          ok: false,
          error: { code, message, ...(e?.details === undefined ? {} : { details: e.details }) },
        }),
      )
    const clause = typeof e?.details?.clause === 'string' ? ` [${e.details.clause}]` : ''
    io.err(`error ${code}: ${message}${clause}\n`)
    const errors = e?.details?.errors
    if (Array.isArray(errors)) for (const line of errors) io.err(`  ${line}\n`)
    return error instanceof CliError && error.code === 'ERR_CLI_USAGE' ? 2 : 1
  }
}
