import { spawn } from 'node:child_process'
import type { CliEntry } from './entry.ts'

/** What a `subrosa` child process printed, and its exit code. */
export type ChildOutput = {
  readonly status: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Run `subrosa <args>` in a child process and collect its output. Asynchronous on purpose: the
 * caller may be serving the broker the child talks to.
 */
export function runCli(
  entry: CliEntry,
  args: readonly string[],
  options: {
    readonly cwd?: string
    readonly env?: Readonly<Record<string, string | undefined>>
  } = {},
): Promise<ChildOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(entry.execPath, [...entry.execArgv, entry.main, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      env: { ...process.env, ...options.env },
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr }))
  })
}

/** The JSON document a `--json` command printed last, or undefined. */
export function lastJson(stdout: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
  } catch {
    return undefined
  }
}
