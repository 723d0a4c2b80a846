// TCB Info v2 (SGX) and v3 (SGX, TDX with tdxModule and tdxModuleIdentities): exact schemas.
import type { TcbStatus } from '../claims.ts'
import {
  advisories,
  array,
  date,
  hexBytes,
  type IsvLevel,
  integer,
  isvLevels,
  type JsonObject,
  object,
  parseJson,
  schemaError,
  status,
  string,
} from './json-schema.ts'

export type TcbLevel = {
  /** SGX TCB comp01..16 SVNs. */
  readonly sgxComponents: readonly number[]
  readonly pceSvn: number
  /** TDX TCB components (TDX TCB Info only). */
  readonly tdxComponents?: readonly number[]
  readonly tcbDate: Date
  readonly status: TcbStatus
  readonly advisoryIds: readonly string[]
}

export type TdxModule = {
  readonly mrSigner: Uint8Array
  readonly attributes: Uint8Array
  readonly attributesMask: Uint8Array
}

export type TdxModuleIdentity = TdxModule & {
  readonly id: string
  readonly levels: readonly IsvLevel[]
}

export type TcbInfo = {
  readonly id: 'SGX' | 'TDX'
  readonly version: 2 | 3
  readonly issueDate: Date
  readonly nextUpdate: Date
  /** Lower-case hex. */
  readonly fmspc: string
  readonly pceId: string
  readonly tcbType: number
  readonly tcbEvaluationDataNumber: number
  readonly tdxModule?: TdxModule
  readonly tdxModuleIdentities?: readonly TdxModuleIdentity[]
  readonly levels: readonly TcbLevel[]
}

const COMPONENTS = 16
const SVN_MAX = 255

function components(value: unknown, path: string): number[] {
  return array(value, path, COMPONENTS).map((item, i) => {
    const c = object(item, `${path}[${i}]`, ['svn'], ['category', 'type'])
    if (c.category !== undefined) string(c.category, `${path}[${i}].category`)
    if (c.type !== undefined) string(c.type, `${path}[${i}].type`)
    return integer(c.svn, `${path}[${i}].svn`, SVN_MAX)
  })
}

function levelV3(item: unknown, p: string, tdx: boolean): TcbLevel {
  const level = object(item, p, ['tcb', 'tcbDate', 'tcbStatus'], ['advisoryIDs'])
  const tcb = object(
    level.tcb,
    `${p}.tcb`,
    tdx ? ['sgxtcbcomponents', 'pcesvn', 'tdxtcbcomponents'] : ['sgxtcbcomponents', 'pcesvn'],
  )
  const base = {
    sgxComponents: components(tcb.sgxtcbcomponents, `${p}.tcb.sgxtcbcomponents`),
    pceSvn: integer(tcb.pcesvn, `${p}.tcb.pcesvn`, 0xffff),
    tcbDate: date(level.tcbDate, `${p}.tcbDate`),
    status: status(level.tcbStatus, `${p}.tcbStatus`, 'platform'),
    advisoryIds: advisories(level.advisoryIDs, `${p}.advisoryIDs`),
  }
  if (!tdx) return base
  return { ...base, tdxComponents: components(tcb.tdxtcbcomponents, `${p}.tcb.tdxtcbcomponents`) }
}

function levelV2(item: unknown, p: string): TcbLevel {
  const level = object(item, p, ['tcb', 'tcbDate', 'tcbStatus'], ['advisoryIDs'])
  const keys = Array.from(
    { length: COMPONENTS },
    (_, i) => `sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`,
  )
  const tcb = object(level.tcb, `${p}.tcb`, [...keys, 'pcesvn'])
  return {
    sgxComponents: keys.map((k) => integer(tcb[k], `${p}.tcb.${k}`, SVN_MAX)),
    pceSvn: integer(tcb.pcesvn, `${p}.tcb.pcesvn`, 0xffff),
    tcbDate: date(level.tcbDate, `${p}.tcbDate`),
    status: status(level.tcbStatus, `${p}.tcbStatus`, 'platform'),
    advisoryIds: advisories(level.advisoryIDs, `${p}.advisoryIDs`),
  }
}

function module(value: unknown, p: string): TdxModule {
  const m = object(value, p, ['mrsigner', 'attributes', 'attributesMask'])
  return moduleFields(m, p)
}

function moduleFields(m: JsonObject, p: string): TdxModule {
  return {
    mrSigner: hexBytes(m.mrsigner, `${p}.mrsigner`, 48),
    attributes: hexBytes(m.attributes, `${p}.attributes`, 8),
    attributesMask: hexBytes(m.attributesMask, `${p}.attributesMask`, 8),
  }
}

const COMMON = [
  'issueDate',
  'nextUpdate',
  'fmspc',
  'pceId',
  'tcbType',
  'tcbEvaluationDataNumber',
  'tcbLevels',
]

/**
 * Parses the raw JSON of a `tcbInfo` object (v2 or v3).
 *
 * @throws AttestError `ERR_ATTEST_COLLATERAL`
 */
export function parseTcbInfo(raw: string): TcbInfo {
  const p = 'tcbInfo'
  const value = parseJson(raw, p)
  const version = (value as { version?: unknown } | null)?.version
  if (version !== 2 && version !== 3) throw schemaError(`${p}.version`, 'unsupported version')
  const o =
    version === 2
      ? object(value, p, ['version', ...COMMON])
      : object(value, p, ['id', 'version', ...COMMON], ['tdxModule', 'tdxModuleIdentities'])
  const id = version === 2 ? 'SGX' : o.id
  if (id !== 'SGX' && id !== 'TDX') throw schemaError(`${p}.id`, 'unknown id')
  const tdx = id === 'TDX'
  if (!tdx && (o.tdxModule !== undefined || o.tdxModuleIdentities !== undefined)) {
    throw schemaError(`${p}.tdxModule`, 'only for TDX')
  }
  if (tdx && o.tdxModule === undefined) throw schemaError(`${p}.tdxModule`, 'missing')
  if (o.tcbType !== 0) throw schemaError(`${p}.tcbType`, 'unsupported tcbType')
  const levels = array(o.tcbLevels, `${p}.tcbLevels`).map((item, i) =>
    version === 2
      ? levelV2(item, `${p}.tcbLevels[${i}]`)
      : levelV3(item, `${p}.tcbLevels[${i}]`, tdx),
  )
  const info: TcbInfo = {
    id,
    version,
    issueDate: date(o.issueDate, `${p}.issueDate`),
    nextUpdate: date(o.nextUpdate, `${p}.nextUpdate`),
    fmspc: Buffer.from(hexBytes(o.fmspc, `${p}.fmspc`, 6)).toString('hex'),
    pceId: Buffer.from(hexBytes(o.pceId, `${p}.pceId`, 2)).toString('hex'),
    tcbType: 0,
    tcbEvaluationDataNumber: integer(o.tcbEvaluationDataNumber, `${p}.tcbEvaluationDataNumber`),
    levels,
  }
  if (!tdx) return info
  const identities =
    o.tdxModuleIdentities === undefined
      ? undefined
      : array(o.tdxModuleIdentities, `${p}.tdxModuleIdentities`).map((item, i) => {
          const ip = `${p}.tdxModuleIdentities[${i}]`
          const m = object(item, ip, [
            'id',
            'mrsigner',
            'attributes',
            'attributesMask',
            'tcbLevels',
          ])
          return {
            id: string(m.id, `${ip}.id`),
            ...moduleFields(m, ip),
            levels: isvLevels(m.tcbLevels, `${ip}.tcbLevels`),
          }
        })
  return {
    ...info,
    tdxModule: module(o.tdxModule, `${p}.tdxModule`),
    ...(identities === undefined ? {} : { tdxModuleIdentities: identities }),
  }
}
