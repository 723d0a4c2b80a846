import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join, normalize } from 'node:path'
import { fromBase64 } from '@subrosa/core'
import type { Injection } from '@subrosa/protocol'
import { LauncherError } from './errors.ts'

/** The virtual root of injected files in policies; the launcher places it at its scratch dir. */
export const INJECT_ROOT = '/run/subrosa/'

/**
 * Write the injection's files (0600) under the scratch directory, which stands for
 * `/run/subrosa/`, and return the env and the injected args with `/run/subrosa/` paths rewritten
 * to the real place.
 *
 * @throws LauncherError `ERR_LAUNCHER_INJECTION` for a path outside `/run/subrosa/` or bad content.
 */
export async function materializeInjection(
  injection: Injection,
  scratchDir: string,
): Promise<{ env: Record<string, string>; args: string[]; files: string[] }> {
  const files: string[] = []
  for (const file of injection.files) {
    const clean = normalize(file.path)
    if (!clean.startsWith(INJECT_ROOT) || clean !== file.path) {
      throw new LauncherError(
        'ERR_LAUNCHER_INJECTION',
        `Injected file ${JSON.stringify(file.path)} is not under ${INJECT_ROOT}`,
      )
    }
    const content = fromBase64(file.content)
    if (content === undefined)
      throw new LauncherError('ERR_LAUNCHER_INJECTION', `Injected file ${file.path} is not base64`)
    const target = join(scratchDir, clean.slice(INJECT_ROOT.length))
    await mkdir(dirname(target), { recursive: true, mode: 0o700 })
    await writeFile(target, content, { mode: 0o600, flag: 'wx' })
    content.fill(0)
    files.push(target)
  }
  const real = (value: string): string => value.split(INJECT_ROOT).join(`${scratchDir}/`)
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(injection.env)) env[name] = real(value)
  const args = (injection.args ?? []).map(real)
  for (const arg of args)
    if (arg.includes('\u0000'))
      throw new LauncherError('ERR_LAUNCHER_INJECTION', 'An injected argument contains NUL')
  return { env, args, files }
}
