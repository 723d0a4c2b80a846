import { spawn } from 'node:child_process'
import type { AttestedWorkload } from './attest-workload.ts'
import { LauncherError } from './errors.ts'
import { materializeInjection } from './inject.ts'
import { createScratch } from './scratch.ts'

/** What {@link launchCommand} did, for the caller to report. */
export type LaunchResult = {
  readonly exitCode: number
  readonly env: readonly string[]
  readonly files: number
  /** How many arguments the injection appended to the command line. */
  readonly args: number
}

/**
 * Run a command as the attested workload: materialize its injection in a private scratch dir,
 * start it with the injected env (and `SUBROSA_SCRATCH`) and the injected args appended after
 * `args`, forward SIGINT/SIGTERM, and remove the
 * scratch dir when it exits, whatever happens.
 *
 * @throws LauncherError `ERR_LAUNCHER_SPAWN`, `ERR_LAUNCHER_INJECTION`.
 */
export async function launchCommand(
  attested: AttestedWorkload,
  command: string,
  args: readonly string[],
  options: {
    readonly baseEnv: Readonly<Record<string, string | undefined>>
    readonly scratchRoot?: string
  },
): Promise<LaunchResult> {
  const scratch = await createScratch(options.scratchRoot)
  try {
    const injected = await materializeInjection(await attested.injection(), scratch.dir)
    const { env, files } = injected
    const child = spawn(command, [...args, ...injected.args], {
      stdio: 'inherit',
      env: { ...options.baseEnv, ...env, SUBROSA_SCRATCH: scratch.dir },
    })
    const forward = (signal: NodeJS.Signals) => child.kill(signal)
    process.on('SIGINT', forward)
    process.on('SIGTERM', forward)
    try {
      const exitCode = await new Promise<number>((resolve, reject) => {
        child.on('error', (cause) =>
          reject(new LauncherError('ERR_LAUNCHER_SPAWN', `Cannot start ${command}`, { cause })),
        )
        child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128 + 15)))
      })
      return { exitCode, env: Object.keys(env), files: files.length, args: injected.args.length }
    } finally {
      process.off('SIGINT', forward)
      process.off('SIGTERM', forward)
    }
  } finally {
    await scratch.dispose()
  }
}
