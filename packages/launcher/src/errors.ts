import { BaseError } from '@subrosa/core'

/** Codes of `launcher`, each with the one-line meaning published in docs/errors.md. */
export const LAUNCHER_ERRORS = {
  ERR_LAUNCHER_TEE: 'No TEE is available to produce evidence (or the sim platform key is missing).',
  ERR_LAUNCHER_TEE_UNAVAILABLE:
    'The requested or detected TEE has no usable evidence interface here (configfs-tsm, Gramine /dev/attestation).',
  ERR_LAUNCHER_TEE_REPORT:
    'The TEE evidence interface failed or returned a report that does not parse (or a concurrent writer changed it).',
  ERR_LAUNCHER_BUNDLE: 'The workload bundle cannot be read or is empty.',
  ERR_LAUNCHER_TOKEN:
    "The broker's token does not verify against its JWKS or does not describe this attestation.",
  ERR_LAUNCHER_INJECTION:
    'The injection from the broker is malformed or names a file outside /run/subrosa.',
  ERR_LAUNCHER_SPAWN: 'The workload command cannot be started.',
  ERR_LAUNCHER_SECRET_FILE:
    'The secret file (e.g. the Spark auth secret) cannot be written where asked; the command was not started.',
} as const

export type LauncherErrorCode = keyof typeof LAUNCHER_ERRORS

export class LauncherError extends BaseError<LauncherErrorCode> {}
