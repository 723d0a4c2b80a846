// The Intel SGX extensions of a PCK certificate (OID 1.2.840.113741.1.13.1).
import { toHex } from '@subrosa/core'
import { AttestError } from '../errors.ts'
import type { Certificate } from '../x509/certificate.ts'
import {
  decodeDer,
  expect,
  readBoolean,
  readOid,
  readSmallInt,
  TAG,
  type Tlv,
} from '../x509/der.ts'
import { extensionValue } from '../x509/extensions.ts'

export const OID_SGX_EXTENSIONS = '1.2.840.113741.1.13.1'
const PPID = `${OID_SGX_EXTENSIONS}.1`
const TCB = `${OID_SGX_EXTENSIONS}.2`
const PCE_ID = `${OID_SGX_EXTENSIONS}.3`
const FMSPC = `${OID_SGX_EXTENSIONS}.4`
const SGX_TYPE = `${OID_SGX_EXTENSIONS}.5`
const PLATFORM_INSTANCE_ID = `${OID_SGX_EXTENSIONS}.6`
const CONFIGURATION = `${OID_SGX_EXTENSIONS}.7`
const TCB_COMPONENTS = 16
const PCESVN = `${TCB}.17`
const CPUSVN = `${TCB}.18`

export type PckExtensions = {
  /** Hex, lower case. */
  readonly ppid: string
  /** SGX TCB comp01..comp16 SVNs. */
  readonly components: readonly number[]
  readonly pceSvn: number
  readonly cpuSvn: string
  readonly pceId: string
  readonly fmspc: string
  /** 0 Standard, 1 Scalable, 2 ScalableWithIntegrity. */
  readonly sgxType: number
  readonly platformInstanceId?: string
  readonly configuration?: {
    readonly dynamicPlatform?: boolean
    readonly cachedKeys?: boolean
    readonly smtEnabled?: boolean
  }
}

const CODE = 'ERR_ATTEST_MALFORMED'
const WHAT = 'PCK SGX extensions'

function bad(field: string): never {
  throw new AttestError(CODE, `Cannot parse ${WHAT}: ${field} is missing or invalid`, {
    details: { field },
  })
}

/** OID → value of a SEQUENCE OF SEQUENCE { OID, value }, each OID once. */
function members(node: Tlv | undefined, field: string): Map<string, Tlv> {
  const seq = expect(node, TAG.sequence, CODE, `${WHAT} ${field}`)
  const out = new Map<string, Tlv>()
  for (const item of seq.children) {
    expect(item, TAG.sequence, CODE, `${WHAT} ${field}`)
    if (item.children.length !== 2) bad(field)
    const oid = readOid(item.children[0], CODE, `${WHAT} ${field}`)
    if (out.has(oid)) bad(oid)
    out.set(oid, item.children[1] as Tlv)
  }
  return out
}

function octets(node: Tlv | undefined, size: number, field: string): string {
  if (node === undefined || node.tag !== TAG.octetString || node.tagClass !== 0) bad(field)
  if (node.content.length !== size) bad(field)
  return toHex(node.content)
}

function svn(node: Tlv | undefined, max: number, field: string): number {
  if (node === undefined) bad(field)
  const value = readSmallInt(node, CODE, `${WHAT} ${field}`)
  if (value > max) bad(field)
  return value
}

/**
 * Reads the SGX extensions of a PCK leaf certificate.
 *
 * @example const { fmspc, components, pceSvn } = parsePckExtensions(pckLeaf)
 * @throws AttestError `ERR_ATTEST_MALFORMED`
 */
export function parsePckExtensions(cert: Certificate): PckExtensions {
  const value = extensionValue(cert, OID_SGX_EXTENSIONS)
  if (value === undefined) bad('extension')
  const top = members(decodeDer(value, CODE, WHAT), 'extension')
  const tcb = members(top.get(TCB), 'tcb')
  const components: number[] = []
  for (let i = 1; i <= TCB_COMPONENTS; i++)
    components.push(svn(tcb.get(`${TCB}.${i}`), 255, `comp${i}`))
  if (tcb.size !== TCB_COMPONENTS + 2) bad('tcb')
  const sgxTypeNode = top.get(SGX_TYPE)
  if (sgxTypeNode === undefined) bad('sgxType')
  const sgxType = readSmallInt(sgxTypeNode, CODE, `${WHAT} sgxType`, TAG.enumerated)
  let result: PckExtensions = {
    ppid: octets(top.get(PPID), 16, 'ppid'),
    components,
    pceSvn: svn(tcb.get(PCESVN), 0xffff, 'pceSvn'),
    cpuSvn: octets(tcb.get(CPUSVN), 16, 'cpuSvn'),
    pceId: octets(top.get(PCE_ID), 2, 'pceId'),
    fmspc: octets(top.get(FMSPC), 6, 'fmspc'),
    sgxType,
  }
  const instance = top.get(PLATFORM_INSTANCE_ID)
  if (instance !== undefined) {
    result = { ...result, platformInstanceId: octets(instance, 16, 'platformInstanceId') }
  }
  const config = top.get(CONFIGURATION)
  if (config !== undefined) {
    const flags = members(config, 'configuration')
    const flag = (n: number) => {
      const node = flags.get(`${CONFIGURATION}.${n}`)
      return node === undefined ? undefined : readBoolean(node, CODE, `${WHAT} configuration`)
    }
    const dynamicPlatform = flag(1)
    const cachedKeys = flag(2)
    const smtEnabled = flag(3)
    result = {
      ...result,
      configuration: {
        ...(dynamicPlatform === undefined ? {} : { dynamicPlatform }),
        ...(cachedKeys === undefined ? {} : { cachedKeys }),
        ...(smtEnabled === undefined ? {} : { smtEnabled }),
      },
    }
  }
  return result
}
