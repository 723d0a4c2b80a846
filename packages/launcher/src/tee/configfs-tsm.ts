// Evidence from Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm-report, Linux 6.7+):
// one report entry per request under <root>/report/, inblob in, outblob (and auxblob) out.
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { parseQuote, parseSnpReport } from '@subrosa/attest'
import { toBase64 } from '@subrosa/core'
import { LauncherError } from '../errors.ts'
import type { TeeProvider } from '../tee.ts'
import { parseSevCertTable } from './sev-cert-table.ts'
import { attributeText, errnoOf, nodeTeeFiles, type TeeFiles } from './tee-files.ts'

/** Where configfs-tsm lives when configfs is mounted at /sys/kernel/config. */
export const TSM_ROOT = '/sys/kernel/config/tsm'

/** The TEE kinds configfs-tsm serves here, by the `provider` attribute that names them. */
export const TSM_PROVIDERS = { tdx_guest: 'tdx', sev_guest: 'snp' } as const

export type TsmTee = (typeof TSM_PROVIDERS)[keyof typeof TSM_PROVIDERS]

/** Options of {@link configfsTsmTee}; `root` and `files` exist so tests can stand in for the kernel. */
export type ConfigfsTsmOptions = {
  readonly tee: TsmTee
  /** Default {@link TSM_ROOT}. */
  readonly root?: string
  readonly files?: TeeFiles
  /** Fresh entries to try when another writer changes ours (`generation` moved); default 3. */
  readonly attempts?: number
}

type Blobs = { readonly outblob: Uint8Array; readonly auxblob: Uint8Array | undefined }

const REPORT_DATA_SIZE = 64

/**
 * A TDX or SEV-SNP guest's evidence through configfs-tsm. Each request makes a fresh entry
 * `<root>/report/subrosa-<random>`, checks `provider`, reads `generation`, writes the 64-byte
 * report data to `inblob`, reads `outblob` (a TDX quote, or an SNP report with the `auxblob`
 * certificate table), reads `generation` again (it must have moved by exactly our one write, or
 * another writer raced us: the request is retried on a fresh entry) and removes the entry.
 *
 * Evidence is the broker's wire form: `{quote}` (tdx) or `{report, vek?}` (snp; the VCEK or VLEK
 * from the certificate table when the host supplied one), base64.
 *
 * @example const tee = configfsTsmTee({ tee: 'tdx' }); await tee.evidence(reportData)
 * @throws LauncherError `ERR_LAUNCHER_TEE_UNAVAILABLE` (no configfs-tsm, or another provider),
 * `ERR_LAUNCHER_TEE_REPORT` (the kernel refused, a report that does not parse, repeated races).
 */
export function configfsTsmTee(options: ConfigfsTsmOptions): TeeProvider {
  const root = options.root ?? TSM_ROOT
  const files = options.files ?? nodeTeeFiles
  const attempts = options.attempts ?? 3
  return {
    tee: options.tee,
    insecure: false,
    async evidence(reportData) {
      if (reportData.length !== REPORT_DATA_SIZE) {
        throw new LauncherError(
          'ERR_LAUNCHER_TEE_REPORT',
          `Report data must be ${REPORT_DATA_SIZE} bytes, not ${reportData.length}`,
        )
      }
      for (let attempt = 0; attempt < attempts; attempt++) {
        const blobs = await requestReport(root, files, options.tee, reportData)
        if (blobs !== undefined) return evidenceOf(options.tee, blobs)
      }
      throw new LauncherError(
        'ERR_LAUNCHER_TEE_REPORT',
        `Another writer changed the configfs-tsm report entry during each of ${attempts} attempts`,
      )
    },
  }
}

/**
 * The TEE kind configfs-tsm serves under `root`, read from the `provider` of a probe entry (made
 * and removed), or undefined when there is no configfs-tsm or no provider loaded.
 *
 * @throws LauncherError `ERR_LAUNCHER_TEE_UNAVAILABLE` for a provider this launcher cannot use.
 */
export async function probeConfigfsTsm(
  root: string = TSM_ROOT,
  files: TeeFiles = nodeTeeFiles,
): Promise<TsmTee | undefined> {
  if (!(await files.exists(join(root, 'report')))) return undefined
  const entry = await createEntry(root, files)
  try {
    const provider = await readProvider(entry, files)
    return provider === undefined ? undefined : teeOfProvider(provider)
  } finally {
    await files.rmdir(entry).catch(() => undefined)
  }
}

async function requestReport(
  root: string,
  files: TeeFiles,
  tee: TsmTee,
  reportData: Uint8Array,
): Promise<Blobs | undefined> {
  const entry = await createEntry(root, files)
  let result: Blobs | undefined
  let failure: unknown
  try {
    const provider = await readProvider(entry, files)
    if (provider === undefined) {
      throw new LauncherError(
        'ERR_LAUNCHER_TEE_UNAVAILABLE',
        `configfs-tsm at ${root} has no provider: no TDX or SEV-SNP guest driver is loaded`,
      )
    }
    const served = teeOfProvider(provider)
    if (served !== tee) {
      throw new LauncherError(
        'ERR_LAUNCHER_TEE_UNAVAILABLE',
        `configfs-tsm provider is ${provider} (${served}), not the ${tee} guest asked for`,
      )
    }
    const before = await readGeneration(entry, files)
    await attribute('write inblob', () => files.writeFile(join(entry, 'inblob'), reportData))
    const outblob = await attribute('read outblob', () => files.readFile(join(entry, 'outblob')))
    const auxblob = tee === 'snp' ? await readAuxblob(entry, files) : undefined
    const after = await readGeneration(entry, files)
    result = after === before + 1n ? { outblob, auxblob } : undefined
  } catch (error) {
    failure = error
  }
  try {
    await files.rmdir(entry)
  } catch (cause) {
    failure ??= new LauncherError(
      'ERR_LAUNCHER_TEE_REPORT',
      `Cannot remove the configfs-tsm report entry ${entry} (${errnoOf(cause) ?? 'error'})`,
      { cause },
    )
  }
  if (failure !== undefined) throw failure
  return result
}

async function createEntry(root: string, files: TeeFiles): Promise<string> {
  const entry = join(root, 'report', `subrosa-${randomBytes(8).toString('hex')}`)
  try {
    await files.mkdir(entry)
  } catch (cause) {
    const errno = errnoOf(cause)
    throw new LauncherError(
      'ERR_LAUNCHER_TEE_UNAVAILABLE',
      errno === 'ENOENT'
        ? `configfs-tsm is not available at ${root}: it needs Linux 6.7 or later with CONFIG_TSM_REPORTS and configfs mounted at /sys/kernel/config`
        : `Cannot create a configfs-tsm report entry under ${root}/report (${errno ?? 'error'})`,
      { cause },
    )
  }
  return entry
}

async function readProvider(entry: string, files: TeeFiles): Promise<string | undefined> {
  try {
    const provider = attributeText(await files.readFile(join(entry, 'provider')))
    return provider === '' ? undefined : provider
  } catch (error) {
    // Without a provider the kernel fails the read (ENXIO); a missing attribute is the same.
    if (errnoOf(error) !== undefined) return undefined
    throw error
  }
}

function teeOfProvider(provider: string): TsmTee {
  const tee = Object.hasOwn(TSM_PROVIDERS, provider)
    ? TSM_PROVIDERS[provider as keyof typeof TSM_PROVIDERS]
    : undefined
  if (tee === undefined) {
    throw new LauncherError(
      'ERR_LAUNCHER_TEE_UNAVAILABLE',
      `configfs-tsm provider ${JSON.stringify(provider.slice(0, 64))} is not one this launcher uses (tdx_guest, sev_guest)`,
    )
  }
  return tee
}

async function readGeneration(entry: string, files: TeeFiles): Promise<bigint> {
  const text = attributeText(
    await attribute('read generation', () => files.readFile(join(entry, 'generation'))),
  )
  if (!/^\d{1,20}$/.test(text)) {
    throw new LauncherError(
      'ERR_LAUNCHER_TEE_REPORT',
      'The configfs-tsm generation attribute is not a number',
    )
  }
  return BigInt(text)
}

async function readAuxblob(entry: string, files: TeeFiles): Promise<Uint8Array | undefined> {
  try {
    const aux = await files.readFile(join(entry, 'auxblob'))
    return aux.length === 0 ? undefined : aux
  } catch (error) {
    // Absent on kernels or providers without it; empty or ENODATA when the host has no certificates.
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENODATA') return undefined
    throw reportFailure('read auxblob', error)
  }
}

async function attribute<T>(what: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    throw reportFailure(what, error)
  }
}

function reportFailure(what: string, cause: unknown): LauncherError {
  return new LauncherError(
    'ERR_LAUNCHER_TEE_REPORT',
    `configfs-tsm: cannot ${what} (${errnoOf(cause) ?? 'error'})`,
    { cause },
  )
}

function evidenceOf(tee: TsmTee, blobs: Blobs): Record<string, string> {
  if (tee === 'tdx') {
    const quote = parseOrFail('TDX quote', () => parseQuote(blobs.outblob))
    if (quote.header.teeType !== 'tdx') {
      throw new LauncherError(
        'ERR_LAUNCHER_TEE_REPORT',
        `configfs-tsm returned an ${quote.header.teeType} quote, not a TDX quote`,
      )
    }
    return { quote: toBase64(blobs.outblob) }
  }
  const report = parseOrFail('SEV-SNP report', () => parseSnpReport(blobs.outblob))
  const certificates = blobs.auxblob === undefined ? [] : parseSevCertTable(blobs.auxblob)
  const wanted = report.signingKey === 'vlek' ? 'vlek' : 'vcek'
  const vek = certificates.find((c) => c.kind === wanted)
  return vek === undefined
    ? { report: toBase64(blobs.outblob) }
    : { report: toBase64(blobs.outblob), vek: toBase64(vek.der) }
}

function parseOrFail<T>(what: string, parse: () => T): T {
  try {
    return parse()
  } catch (cause) {
    throw new LauncherError(
      'ERR_LAUNCHER_TEE_REPORT',
      `configfs-tsm returned bytes that are not a ${what}`,
      { cause },
    )
  }
}
