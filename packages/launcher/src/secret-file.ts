import { chmod, mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { LauncherError } from './errors.ts'

/**
 * Write a secret released to this attested workload into `path` with mode 0600 (the Spark auth
 * secret that `spark.authenticate.secret.file` names), creating its directory (0700) when
 * missing, and zero the bytes afterwards. An existing file is truncated and its mode reset: a
 * container restart in the same pod finds the previous file in its emptyDir.
 *
 * @example await writeSecretFile('/run/subrosa-spark/spark-auth', await attested.resource(ns, p, 'spark-auth'))
 * @throws LauncherError `ERR_LAUNCHER_SECRET_FILE` (the message names the path, never the value).
 */
export async function writeSecretFile(path: string, secret: Uint8Array): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 })
    const file = await open(path, 'w', 0o600)
    try {
      await file.chmod(0o600)
      await file.writeFile(secret)
      await file.sync()
    } finally {
      await file.close()
    }
    await chmod(path, 0o600)
  } catch (cause) {
    throw new LauncherError('ERR_LAUNCHER_SECRET_FILE', `Cannot write the secret file ${path}`, {
      cause,
    })
  } finally {
    secret.fill(0)
  }
}
