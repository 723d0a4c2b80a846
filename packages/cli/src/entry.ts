import { fileURLToPath } from 'node:url'

/** How to start `subrosa` in a child process (the TEE stand-in of `demo`, and tests). */
export type CliEntry = {
  readonly execPath: string
  readonly execArgv: readonly string[]
  readonly main: string
}

/**
 * This CLI run from source through tsx, resolved to absolute locations so that the child works
 * whatever its working directory.
 */
export function cliEntry(): CliEntry {
  return {
    execPath: process.execPath,
    execArgv: ['--conditions=source', '--import', import.meta.resolve('tsx')],
    main: fileURLToPath(new URL('./main.ts', import.meta.url)),
  }
}
