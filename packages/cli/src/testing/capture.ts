import type { Io } from '../command.ts'

/** An Io for running commands in-process in tests, collecting what they print. */
export function capture(cwd = process.cwd()): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = []
  const stderr: string[] = []
  return {
    stdout,
    stderr,
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    stderrIsTty: false,
    env: {},
    cwd,
  }
}
