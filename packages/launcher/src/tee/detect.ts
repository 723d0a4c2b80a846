// Choosing the evidence source: configfs-tsm (TDX, SEV-SNP), Gramine (SGX), or the sim TEE when
// it is asked for by name. The guest devices are recognised only to say what is missing.
import { join } from 'node:path'
import { LauncherError } from '../errors.ts'
import type { TeeProvider } from '../tee.ts'
import { configfsTsmTee, probeConfigfsTsm, TSM_ROOT, type TsmTee } from './configfs-tsm.ts'
import { GRAMINE_ROOT, gramineAttestationType, gramineTee } from './gramine.ts'
import { nodeTeeFiles, type TeeFiles } from './tee-files.ts'

/** What `--tee` accepts. `auto` never picks `sim`. */
export const TEE_CHOICES = ['auto', 'sim', 'tdx', 'snp', 'sgx'] as const

export type TeeChoice = (typeof TEE_CHOICES)[number]

/** True when `value` is one of {@link TEE_CHOICES}. */
export function isTeeChoice(value: string): value is TeeChoice {
  return (TEE_CHOICES as readonly string[]).includes(value)
}

/** The guest devices (under `/dev`) that older kernels offer instead of configfs-tsm. */
export const GUEST_DEVICES: Readonly<Record<TsmTee, string>> = {
  tdx: 'tdx_guest',
  snp: 'sev-guest',
}

export type DetectTeeOptions = {
  /** Default `auto`. */
  readonly choice?: TeeChoice
  /** Makes the sim TEE; called only when `choice` is `sim`. */
  readonly sim?: () => TeeProvider | Promise<TeeProvider>
  /** Default /sys/kernel/config/tsm. */
  readonly tsmRoot?: string
  /** Default /dev/attestation. */
  readonly gramineRoot?: string
  /** Where the guest devices are looked for; default /dev. */
  readonly devRoot?: string
  readonly files?: TeeFiles
}

const NAMES: Readonly<Record<TsmTee | 'sgx', string>> = {
  tdx: 'TDX',
  snp: 'SEV-SNP',
  sgx: 'SGX',
}

/**
 * The evidence source for `choice`: `tdx`/`snp` through configfs-tsm, `sgx` through Gramine,
 * `sim` from `options.sim`, and `auto` the first hardware source present (configfs-tsm with a
 * provider, then Gramine with DCAP). A TDX or SEV-SNP guest device without configfs-tsm is
 * refused with a message naming what is needed (ADR 0024).
 *
 * @example const tee = await detectTee({ choice: 'auto' })
 * @throws LauncherError `ERR_LAUNCHER_TEE_UNAVAILABLE` when the chosen (or any) TEE has no usable
 * interface; `ERR_LAUNCHER_TEE` when `sim` is chosen without a sim factory.
 */
export async function detectTee(options: DetectTeeOptions = {}): Promise<TeeProvider> {
  const choice = options.choice ?? 'auto'
  const files = options.files ?? nodeTeeFiles
  const tsmRoot = options.tsmRoot ?? TSM_ROOT
  const gramineRoot = options.gramineRoot ?? GRAMINE_ROOT
  const devRoot = options.devRoot ?? '/dev'
  switch (choice) {
    case 'sim':
      if (options.sim === undefined)
        throw new LauncherError('ERR_LAUNCHER_TEE', 'The sim TEE was chosen without a platform key')
      return options.sim()
    case 'tdx':
    case 'snp': {
      const served = await probeConfigfsTsm(tsmRoot, files)
      if (served === choice) return configfsTsmTee({ tee: choice, root: tsmRoot, files })
      if (served !== undefined) {
        throw new LauncherError(
          'ERR_LAUNCHER_TEE_UNAVAILABLE',
          `--tee ${choice}: this is a ${NAMES[served]} guest (configfs-tsm provider), not ${NAMES[choice]}`,
        )
      }
      throw await withoutConfigfs(choice, devRoot, files)
    }
    case 'sgx':
      await requireGramineDcap(gramineRoot, files)
      return gramineTee({ root: gramineRoot, files })
    case 'auto': {
      const served = await probeConfigfsTsm(tsmRoot, files)
      if (served !== undefined) return configfsTsmTee({ tee: served, root: tsmRoot, files })
      if ((await gramineAttestationType(gramineRoot, files)) !== undefined) {
        await requireGramineDcap(gramineRoot, files)
        return gramineTee({ root: gramineRoot, files })
      }
      for (const tee of ['tdx', 'snp'] as const) {
        if (await files.exists(join(devRoot, GUEST_DEVICES[tee])))
          throw await withoutConfigfs(tee, devRoot, files)
      }
      throw new LauncherError(
        'ERR_LAUNCHER_TEE_UNAVAILABLE',
        `No TEE found: no configfs-tsm provider at ${tsmRoot}, no Gramine ${gramineRoot}, no TDX or SEV-SNP guest device; use --tee sim for development (INSECURE)`,
      )
    }
  }
}

async function withoutConfigfs(
  tee: TsmTee,
  devRoot: string,
  files: TeeFiles,
): Promise<LauncherError> {
  const device = join(devRoot, GUEST_DEVICES[tee])
  return new LauncherError(
    'ERR_LAUNCHER_TEE_UNAVAILABLE',
    (await files.exists(device))
      ? `${device} is present but configfs-tsm is not: the launcher collects ${NAMES[tee]} evidence only through configfs-tsm (Linux 6.7 or later, CONFIG_TSM_REPORTS, configfs mounted); the device's ioctl interface would need a native addon (ADR 0024)`
      : `Not a ${NAMES[tee]} guest: neither configfs-tsm nor ${device} is present`,
  )
}

async function requireGramineDcap(root: string, files: TeeFiles): Promise<void> {
  const type = await gramineAttestationType(root, files)
  if (type === 'dcap') return
  throw new LauncherError(
    'ERR_LAUNCHER_TEE_UNAVAILABLE',
    type === undefined
      ? `--tee sgx: not inside a Gramine enclave (no ${root}/attestation_type)`
      : `Gramine attestation_type is ${JSON.stringify(type.slice(0, 32))}: the manifest must set sgx.remote_attestation = "dcap"`,
  )
}
