// Test support: `subrosa <args>` in this process, its output captured. For commands that do
// not start servers (child.ts runs those that do, in a child process).
import { main } from './cli.ts'
import type { Io } from './command.ts'

/** Run `subrosa <args>` with `cwd`; the exit code and what it printed. */
export async function runInProcess(
  args: readonly string[],
  cwd: string = process.cwd(),
): Promise<{ status: number; stdout: string; stderr: string }> {
  const stdout: string[] = []
  const stderr: string[] = []
  const io: Io = {
    out: (t) => stdout.push(t),
    err: (t) => stderr.push(t),
    stderrIsTty: false,
    env: {},
    cwd,
  }
  const status = await main([...args], io)
  return { status, stdout: stdout.join('\n'), stderr: stderr.join('') }
}
