// Intel's TCB status algorithm (QVL): platform level match, TDX module identity, module and QE
// convergence, TD 1.5 relaunch. Pure: no signatures, no time; inputs are already verified.
import { equalBytes } from '@subrosa/core'
import type { TcbStatus } from '../claims.ts'
import { AttestError } from '../errors.ts'
import type { IsvLevel } from './json-schema.ts'
import type { QeIdentity } from './qe-identity.ts'
import type { TdReportBody } from './report-body.ts'
import type { TcbInfo, TcbLevel, TdxModule } from './tcb-info.ts'

export type TcbInput = {
  readonly quoteVersion: number
  /** TD report for TDX quotes (body kind td10/td15), undefined for SGX. */
  readonly td?: { readonly report: TdReportBody; readonly kind: 'td10' | 'td15' }
  readonly pck: { readonly components: readonly number[]; readonly pceSvn: number }
  readonly tcbInfo: TcbInfo
  readonly qe: IsvLevel
}

export type TcbResult = {
  readonly status: TcbStatus
  /** The platform status after TDX module convergence and relaunch, before QE convergence. */
  readonly platformStatus: TcbStatus
  readonly advisoryIds: string[]
  readonly tdxModule?: { readonly major: number; readonly svn: number; readonly identity?: string }
}

function notSupported(message: string, details: Record<string, string | number>): AttestError {
  return new AttestError('ERR_ATTEST_TCB_NOT_SUPPORTED', message, { details })
}

/**
 * The QE's TCB level: the first level (highest first) whose isvsvn the QE reaches.
 *
 * @throws AttestError `ERR_ATTEST_TCB_NOT_SUPPORTED`
 */
export function qeTcbLevel(identity: QeIdentity, isvSvn: number): IsvLevel {
  const level = identity.levels.find((l) => isvSvn >= l.isvSvn)
  if (level === undefined) {
    throw notSupported('No QE Identity TCB level matches the quoting enclave', {
      stage: 'qe',
      qeSvn: isvSvn,
    })
  }
  return level
}

function sgxMatches(level: TcbLevel, pck: TcbInput['pck']): boolean {
  return (
    level.sgxComponents.every((svn, i) => (pck.components[i] ?? -1) >= svn) &&
    pck.pceSvn >= level.pceSvn
  )
}

function tdxMatches(level: TcbLevel, teeTcbSvn: Uint8Array, start: number): boolean {
  const required = level.tdxComponents ?? []
  for (let i = start; i < required.length; i++) {
    if ((teeTcbSvn[i] as number) < (required[i] as number)) return false
  }
  return true
}

function moduleMismatch(message: string, details: Record<string, string | number>): AttestError {
  return new AttestError('ERR_ATTEST_TDX_MODULE', message, { details })
}

function checkModule(expected: TdxModule, report: TdReportBody, id: string): void {
  if (!equalBytes(report.mrSignerSeam, expected.mrSigner)) {
    throw moduleMismatch('MRSIGNERSEAM does not match the TDX module identity', { identity: id })
  }
  const masked = report.seamAttributes.map((b, i) => b & (expected.attributesMask[i] as number))
  if (!equalBytes(masked, expected.attributes)) {
    throw moduleMismatch('SEAMATTRIBUTES do not match the TDX module identity', { identity: id })
  }
}

const CONFIG: ReadonlySet<TcbStatus> = new Set([
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDateConfigurationNeeded',
])

/** Intel's convergence of a platform status with an OutOfDate or Revoked component. */
function converge(platform: TcbStatus, other: TcbStatus): TcbStatus {
  if (other === 'Revoked') return 'Revoked'
  if (other !== 'OutOfDate') return platform
  if (platform === 'UpToDate' || platform === 'SWHardeningNeeded') return 'OutOfDate'
  if (platform === 'ConfigurationNeeded' || platform === 'ConfigurationAndSWHardeningNeeded') {
    return 'OutOfDateConfigurationNeeded'
  }
  return platform
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0').toUpperCase()
}

/**
 * Computes the TCB status of a verified quote against verified TCB Info and QE level.
 *
 * @throws AttestError `ERR_ATTEST_TCB_NOT_SUPPORTED` (no level), `ERR_ATTEST_TDX_MODULE`
 */
export function computeTcbStatus(input: TcbInput): TcbResult {
  const { tcbInfo, pck, td, qe } = input
  const levels = tcbInfo.levels
  const sgxLevel = levels.find((l) => sgxMatches(l, pck))
  if (sgxLevel === undefined) {
    throw notSupported('No TCB level matches the platform (PCK SVNs)', { stage: 'platform' })
  }
  if (td === undefined) {
    const status = converge(sgxLevel.status, qe.status)
    const advisoryIds = [...new Set([...sgxLevel.advisoryIds, ...qe.advisoryIds])].sort()
    return { status, platformStatus: sgxLevel.status, advisoryIds }
  }
  const svn = td.report.teeTcbSvn
  const major = svn[1] as number
  const minor = svn[0] as number
  const start = input.quoteVersion > 3 && major > 0 ? 2 : 0
  const tdxLevel = levels.find((l) => sgxMatches(l, pck) && tdxMatches(l, svn, start))
  if (tdxLevel === undefined) {
    throw notSupported('No TCB level matches the TDX TCB (TEE_TCB_SVN)', { stage: 'tdx' })
  }
  let moduleLevel: IsvLevel | undefined
  let identity: string | undefined
  if (major === 0 && input.quoteVersion > 3) {
    checkModule(tcbInfo.tdxModule as TdxModule, td.report, 'tdxModule')
  } else {
    identity = `TDX_${hex2(major)}`
    const found = tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === identity)
    if (found === undefined) {
      throw moduleMismatch('No TDX module identity for this module version', { identity })
    }
    checkModule(found, td.report, identity)
    moduleLevel = found.levels.find((l) => minor >= l.isvSvn)
    if (moduleLevel === undefined) {
      throw notSupported('No TCB level of the TDX module identity matches', {
        stage: 'module',
        identity,
      })
    }
  }
  let platform = converge(tdxLevel.status, moduleLevel?.status ?? 'UpToDate')
  if (
    td.kind === 'td15' &&
    moduleLevel?.status === 'OutOfDate' &&
    relaunchHelps(input, td.report)
  ) {
    const config =
      CONFIG.has(sgxLevel.status) || CONFIG.has(tdxLevel.status) || CONFIG.has(platform)
    platform = config ? 'TDRelaunchAdvisedConfigurationNeeded' : 'TDRelaunchAdvised'
  }
  const status = converge(platform, qe.status)
  const advisoryIds = [
    ...new Set([...tdxLevel.advisoryIds, ...(moduleLevel?.advisoryIds ?? []), ...qe.advisoryIds]),
  ].sort()
  return {
    status,
    platformStatus: platform,
    advisoryIds,
    tdxModule: { major, svn: minor, ...(identity === undefined ? {} : { identity }) },
  }

  function relaunchHelps(inp: TcbInput, report: TdReportBody): boolean {
    const sgxOk = !['OutOfDate', 'OutOfDateConfigurationNeeded', 'Revoked'].includes(
      sgxLevel?.status ?? 'Revoked',
    )
    if (inp.qe.status !== 'UpToDate' || !sgxOk) return false
    if (platform !== 'OutOfDate' && platform !== 'OutOfDateConfigurationNeeded') return false
    const svn2 = report.teeTcbSvn2
    const latest = levels[0]?.tdxComponents
    if (svn2 === undefined || latest === undefined) return false
    const major2 = svn2[1] as number
    let minimum: number | undefined
    if (major2 === 0) minimum = latest[0]
    else {
      const id2 = `TDX_${hex2(major2)}`
      minimum = tcbInfo.tdxModuleIdentities?.find((m) => m.id.toUpperCase() === id2)?.levels[0]
        ?.isvSvn
    }
    return (
      minimum !== undefined &&
      (svn2[0] as number) >= minimum &&
      (svn2[2] as number) >= (latest[2] as number)
    )
  }
}
