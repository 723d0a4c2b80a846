// QE Identity v2 (enclaveIdentity): exact schema.
import {
  date,
  hexBytes,
  type IsvLevel,
  integer,
  isvLevels,
  object,
  parseJson,
  schemaError,
} from './json-schema.ts'

export type QeIdentity = {
  readonly id: 'QE' | 'QVE' | 'TD_QE'
  readonly version: 2
  readonly issueDate: Date
  readonly nextUpdate: Date
  readonly tcbEvaluationDataNumber: number
  /** Hex text read as a number, compared with the report's little-endian MISCSELECT. */
  readonly miscselect: number
  readonly miscselectMask: number
  readonly attributes: Uint8Array
  readonly attributesMask: Uint8Array
  readonly mrSigner: Uint8Array
  readonly isvProdId: number
  readonly levels: readonly IsvLevel[]
}

function u32(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false)
}

const IDS: readonly string[] = ['QE', 'QVE', 'TD_QE']

/**
 * Parses the raw JSON of an `enclaveIdentity` object (QE Identity v2).
 *
 * @throws AttestError `ERR_ATTEST_COLLATERAL`
 */
export function parseQeIdentity(raw: string): QeIdentity {
  const p = 'enclaveIdentity'
  const o = object(parseJson(raw, p), p, [
    'id',
    'version',
    'issueDate',
    'nextUpdate',
    'tcbEvaluationDataNumber',
    'miscselect',
    'miscselectMask',
    'attributes',
    'attributesMask',
    'mrsigner',
    'isvprodid',
    'tcbLevels',
  ])
  if (!IDS.includes(o.id as string)) throw schemaError(`${p}.id`, 'unknown identity id')
  if (o.version !== 2) throw schemaError(`${p}.version`, 'unsupported version')
  return {
    id: o.id as QeIdentity['id'],
    version: 2,
    issueDate: date(o.issueDate, `${p}.issueDate`),
    nextUpdate: date(o.nextUpdate, `${p}.nextUpdate`),
    tcbEvaluationDataNumber: integer(o.tcbEvaluationDataNumber, `${p}.tcbEvaluationDataNumber`),
    miscselect: u32(hexBytes(o.miscselect, `${p}.miscselect`, 4)),
    miscselectMask: u32(hexBytes(o.miscselectMask, `${p}.miscselectMask`, 4)),
    attributes: hexBytes(o.attributes, `${p}.attributes`, 16),
    attributesMask: hexBytes(o.attributesMask, `${p}.attributesMask`, 16),
    mrSigner: hexBytes(o.mrsigner, `${p}.mrsigner`, 32),
    isvProdId: integer(o.isvprodid, `${p}.isvprodid`, 0xffff),
    levels: isvLevels(o.tcbLevels, `${p}.tcbLevels`),
  }
}
