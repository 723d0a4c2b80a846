// Normalized claims of a verified quote.
import { toHex } from '@subrosa/core'
import type { SgxClaims, TcbStatus, TdxClaims } from '../claims.ts'
import type { PckExtensions } from './pck-extensions.ts'
import type { Quote } from './quote.ts'
import type { TcbResult } from './tcb-status.ts'

const QE_ID_SIZE = 16
const SGX_DEBUG_BIT = 0x02 // ATTRIBUTES.flags bit 1
const TD_DEBUG_BIT = 0x01 // TDATTRIBUTES bit 0

/** QE-ID from the header user data, or the PPID when the QE-ID is all zero. */
function platformId(quote: Quote, pck: PckExtensions): string {
  const qeId = quote.header.userData.subarray(0, QE_ID_SIZE)
  return qeId.some((b) => b !== 0) ? toHex(qeId) : pck.ppid
}

export function quoteClaims(
  quote: Quote,
  pck: PckExtensions,
  tcb: TcbResult,
  qeStatus: TcbStatus,
): SgxClaims | TdxClaims {
  const common = {
    insecure: false as const,
    tcbStatus: tcb.status,
    advisoryIds: tcb.advisoryIds,
    platformId: platformId(quote, pck),
    source: { kind: 'evidence' as const },
    fmspc: pck.fmspc,
    pceId: pck.pceId,
    pceSvn: pck.pceSvn,
    qeSvn: quote.qeReport.isvSvn,
    qeStatus,
    quoteVersion: quote.header.version,
  }
  const { body } = quote
  if (body.kind === 'sgx') {
    const r = body.report
    return {
      tee: 'sgx',
      ...common,
      debug: ((r.attributes[0] as number) & SGX_DEBUG_BIT) !== 0,
      reportData: toHex(r.reportData),
      mrenclave: toHex(r.mrEnclave),
      mrsigner: toHex(r.mrSigner),
      isvProdId: r.isvProdId,
      isvSvn: r.isvSvn,
      configSvn: r.configSvn,
      configId: toHex(r.configId),
      isvExtProdId: toHex(r.isvExtProdId),
      isvFamilyId: toHex(r.isvFamilyId),
      attributes: toHex(r.attributes),
      miscselect: r.miscSelect,
      cpuSvn: toHex(r.cpuSvn),
    }
  }
  const r = body.report
  const [rtmr0, rtmr1, rtmr2, rtmr3] = r.rtmrs.map(toHex) as [string, string, string, string]
  return {
    tee: 'tdx',
    ...common,
    debug: ((r.tdAttributes[0] as number) & TD_DEBUG_BIT) !== 0,
    reportData: toHex(r.reportData),
    mrtd: toHex(r.mrTd),
    rtmr0,
    rtmr1,
    rtmr2,
    rtmr3,
    mrconfigid: toHex(r.mrConfigId),
    mrowner: toHex(r.mrOwner),
    mrownerconfig: toHex(r.mrOwnerConfig),
    mrseam: toHex(r.mrSeam),
    mrsignerseam: toHex(r.mrSignerSeam),
    teeTcbSvn: toHex(r.teeTcbSvn),
    tdAttributes: toHex(r.tdAttributes),
    xfam: toHex(r.xfam),
    seamAttributes: toHex(r.seamAttributes),
    ...(tcb.tdxModule === undefined ? {} : { tdxModule: tcb.tdxModule }),
    ...(r.mrServiceTd === undefined ? {} : { mrservicetd: toHex(r.mrServiceTd) }),
    ...(r.teeTcbSvn2 === undefined ? {} : { teeTcbSvn2: toHex(r.teeTcbSvn2) }),
  }
}
