// Evidence from Gramine's /dev/attestation pseudo-files (SGX with DCAP): write the 64-byte report
// data to user_report_data, read the quote back.
import { join } from 'node:path'
import { parseQuote } from '@subrosa/attest'
import { toBase64 } from '@subrosa/core'
import { LauncherError } from '../errors.ts'
import type { TeeProvider } from '../tee.ts'
import { attributeText, errnoOf, nodeTeeFiles, type TeeFiles } from './tee-files.ts'

/** Where Gramine exposes its attestation interface inside the enclave. */
export const GRAMINE_ROOT = '/dev/attestation'

/** Options of {@link gramineTee}; `root` and `files` exist so tests can stand in for Gramine. */
export type GramineOptions = {
  /** Default {@link GRAMINE_ROOT}. */
  readonly root?: string
  readonly files?: TeeFiles
}

const REPORT_DATA_SIZE = 64

/**
 * An SGX enclave's evidence under Gramine: `attestation_type` must be `dcap` (EPID and `none`
 * produce nothing the broker verifies), the 64-byte report data is written to
 * `user_report_data`, and `quote` is read back: a DCAP quote, sent as `{quote}` (base64).
 *
 * @example const tee = gramineTee(); await tee.evidence(reportData)
 * @throws LauncherError `ERR_LAUNCHER_TEE_UNAVAILABLE` (not under Gramine, or not DCAP),
 * `ERR_LAUNCHER_TEE_REPORT` (Gramine refused, or what it returned is not an SGX quote).
 */
export function gramineTee(options: GramineOptions = {}): TeeProvider {
  const root = options.root ?? GRAMINE_ROOT
  const files = options.files ?? nodeTeeFiles
  return {
    tee: 'sgx',
    insecure: false,
    async evidence(reportData) {
      if (reportData.length !== REPORT_DATA_SIZE) {
        throw new LauncherError(
          'ERR_LAUNCHER_TEE_REPORT',
          `Report data must be ${REPORT_DATA_SIZE} bytes, not ${reportData.length}`,
        )
      }
      const type = await gramineAttestationType(root, files)
      if (type !== 'dcap') {
        throw new LauncherError(
          'ERR_LAUNCHER_TEE_UNAVAILABLE',
          type === undefined
            ? `Gramine's attestation interface is not available at ${root}: not inside a Gramine SGX enclave`
            : `Gramine attestation_type is ${JSON.stringify(type.slice(0, 32))}: the manifest must set sgx.remote_attestation = "dcap"`,
        )
      }
      await step('write user_report_data', () =>
        files.writeFile(join(root, 'user_report_data'), reportData),
      )
      const quote = await step('read quote', () => files.readFile(join(root, 'quote')))
      let teeType: string
      try {
        teeType = parseQuote(quote).header.teeType
      } catch (cause) {
        throw new LauncherError(
          'ERR_LAUNCHER_TEE_REPORT',
          'Gramine returned bytes that are not a DCAP quote',
          { cause },
        )
      }
      if (teeType !== 'sgx') {
        throw new LauncherError(
          'ERR_LAUNCHER_TEE_REPORT',
          `Gramine returned a ${teeType} quote, not an SGX quote`,
        )
      }
      return { quote: toBase64(quote) }
    },
  }
}

/** Gramine's `attestation_type` (`dcap`, `epid`, `none`), or undefined outside Gramine. */
export async function gramineAttestationType(
  root: string = GRAMINE_ROOT,
  files: TeeFiles = nodeTeeFiles,
): Promise<string | undefined> {
  try {
    return attributeText(await files.readFile(join(root, 'attestation_type'))).trim()
  } catch (error) {
    if (errnoOf(error) !== undefined) return undefined
    throw error
  }
}

async function step<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (cause) {
    throw new LauncherError(
      'ERR_LAUNCHER_TEE_REPORT',
      `Gramine /dev/attestation: cannot ${what} (${errnoOf(cause) ?? 'error'})`,
      { cause },
    )
  }
}
