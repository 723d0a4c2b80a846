import { readFile } from 'node:fs/promises'
import { fromBase64, toBase64, utf8 } from '@subrosa/core'
import { SdkError } from '../errors.ts'
import { createAtomicFileSink } from '../files.ts'
import { crlDates, parsePemChain } from './der.ts'
import { type DcapCollateral, SNP_PRODUCTS, type SnpProduct } from './types.ts'

export const COLLATERAL_BUNDLE_FORMAT = 'subrosa-collateral/v1'
/** Largest bundle file accepted. */
export const MAX_BUNDLE_BYTES = 16 << 20

/** Intel collateral for one FMSPC; signed JSON kept as raw text, CRLs as base64 DER. */
export type IntelCollateralBundle = {
  readonly fmspc: string
  readonly tcbInfo: string
  readonly tcbInfoSignature: string
  readonly tcbInfoIssuerChain: string
  readonly qeIdentity: string
  readonly qeIdentitySignature: string
  readonly qeIdentityIssuerChain: string
  readonly pckCrl: string
  readonly pckCrlIssuerChain: string
  readonly rootCaCrl: string
}

/** AMD collateral for one chip: its VCEK/VLEK (PEM), `ASK|ASVK + ARK` (PEM), the CRL. */
export type AmdCollateralBundle = {
  readonly product: SnpProduct
  readonly vek: string
  readonly chain: string
  readonly crl?: string
}

/** An offline collateral bundle (`subrosa-collateral/v1`), for verifiers without network. */
export type CollateralBundle = {
  readonly format: typeof COLLATERAL_BUNDLE_FORMAT
  readonly intel?: IntelCollateralBundle
  readonly amd?: AmdCollateralBundle
  /** ISO 8601. */
  readonly fetchedAt: string
}

const INTEL_KEYS = [
  'fmspc',
  'tcbInfo',
  'tcbInfoSignature',
  'tcbInfoIssuerChain',
  'qeIdentity',
  'qeIdentitySignature',
  'qeIdentityIssuerChain',
  'pckCrl',
  'pckCrlIssuerChain',
  'rootCaCrl',
] as const

type Check = (value: string) => boolean
const hex =
  (bytes: number): Check =>
  (v) =>
    v.length === bytes * 2 && /^[0-9a-fA-F]*$/.test(v)
const jsonObject: Check = (v) => {
  try {
    const parsed: unknown = JSON.parse(v)
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
  } catch {
    return false
  }
}
const chain =
  (min: number, max: number): Check =>
  (v) => {
    const certs = parsePemChain(v)
    return certs !== undefined && certs.length >= min && certs.length <= max
  }
const crl: Check = (v) => {
  const der = fromBase64(v)
  return der !== undefined && crlDates(der) !== undefined
}
const INTEL_CHECKS: Record<(typeof INTEL_KEYS)[number], [Check, string]> = {
  fmspc: [hex(6), '6 bytes of hex'],
  tcbInfo: [jsonObject, 'the raw JSON text of an object'],
  tcbInfoSignature: [hex(64), '64 bytes of hex'],
  tcbInfoIssuerChain: [chain(1, 8), 'a PEM certificate chain'],
  qeIdentity: [jsonObject, 'the raw JSON text of an object'],
  qeIdentitySignature: [hex(64), '64 bytes of hex'],
  qeIdentityIssuerChain: [chain(1, 8), 'a PEM certificate chain'],
  pckCrl: [crl, 'a base64 DER CRL'],
  pckCrlIssuerChain: [chain(1, 8), 'a PEM certificate chain'],
  rootCaCrl: [crl, 'a base64 DER CRL'],
}

/**
 * Parse a collateral bundle strictly: exact format tag, no unknown members, every field of the
 * expected shape (hex, PEM chains that parse, CRLs that have a CRL's shape, raw JSON objects).
 * Nothing is verified cryptographically here.
 *
 * @throws SdkError `ERR_SDK_CONFIG` naming the first field that is wrong.
 */
export function parseCollateralBundle(text: string): CollateralBundle {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw invalid('bundle', 'is not JSON')
  }
  const top = record(parsed, 'bundle', ['format', 'intel', 'amd', 'fetchedAt'])
  if (top.format !== COLLATERAL_BUNDLE_FORMAT) {
    throw invalid('format', `is not ${COLLATERAL_BUNDLE_FORMAT}`)
  }
  const fetchedAt = top.fetchedAt
  if (typeof fetchedAt !== 'string' || Number.isNaN(Date.parse(fetchedAt))) {
    throw invalid('fetchedAt', 'is not an ISO 8601 time')
  }
  return {
    format: COLLATERAL_BUNDLE_FORMAT,
    ...(top.intel === undefined ? {} : { intel: parseIntel(top.intel) }),
    ...(top.amd === undefined ? {} : { amd: parseAmd(top.amd) }),
    fetchedAt,
  }
}

function parseIntel(value: unknown): IntelCollateralBundle {
  const intel = record(value, 'intel', INTEL_KEYS)
  const out: Partial<Record<(typeof INTEL_KEYS)[number], string>> = {}
  for (const key of INTEL_KEYS) {
    const [check, shape] = INTEL_CHECKS[key]
    const field = intel[key]
    if (typeof field !== 'string' || !check(field)) throw invalid(`intel.${key}`, `is not ${shape}`)
    out[key] = field
  }
  return out as IntelCollateralBundle
}

function parseAmd(value: unknown): AmdCollateralBundle {
  const amd = record(value, 'amd', ['product', 'vek', 'chain', 'crl'])
  const product = SNP_PRODUCTS.find((p) => p === amd.product)
  if (product === undefined)
    throw invalid('amd.product', `is not one of ${SNP_PRODUCTS.join(', ')}`)
  const { vek, chain: pem, crl: list } = amd
  if (typeof vek !== 'string' || !chain(1, 1)(vek))
    throw invalid('amd.vek', 'is not a PEM certificate')
  if (typeof pem !== 'string' || !chain(2, 2)(pem)) {
    throw invalid('amd.chain', 'is not two PEM certificates')
  }
  if (list !== undefined && (typeof list !== 'string' || !crl(list))) {
    throw invalid('amd.crl', 'is not a base64 DER CRL')
  }
  return { product, vek, chain: pem, ...(list === undefined ? {} : { crl: list }) }
}

function record(value: unknown, what: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(what, 'is not a JSON object')
  }
  const extra = Object.keys(value).find((k) => !keys.includes(k))
  if (extra !== undefined)
    throw invalid(what, `has an unknown member ${JSON.stringify(extra.slice(0, 40))}`)
  return value as Record<string, unknown>
}

function invalid(field: string, problem: string): SdkError {
  return new SdkError('ERR_SDK_CONFIG', `Collateral bundle ${field} ${problem}`, {
    details: { field },
  })
}

/** The DCAP verifier's input from a bundle's Intel part. @throws SdkError `ERR_SDK_CONFIG` */
export function dcapCollateralOf(bundle: CollateralBundle): DcapCollateral {
  const intel = bundle.intel
  if (intel === undefined) throw invalid('intel', 'is missing')
  const der = (b64: string, field: string) => {
    const bytes = fromBase64(b64)
    if (bytes === undefined) throw invalid(field, 'is not base64')
    return bytes
  }
  return {
    tcbInfo: intel.tcbInfo,
    tcbInfoSignature: intel.tcbInfoSignature,
    tcbInfoIssuerChain: intel.tcbInfoIssuerChain,
    qeIdentity: intel.qeIdentity,
    qeIdentitySignature: intel.qeIdentitySignature,
    qeIdentityIssuerChain: intel.qeIdentityIssuerChain,
    pckCrl: der(intel.pckCrl, 'intel.pckCrl'),
    pckCrlIssuerChain: intel.pckCrlIssuerChain,
    rootCaCrl: der(intel.rootCaCrl, 'intel.rootCaCrl'),
  }
}

/** A bundle's Intel part from fetched DCAP collateral. */
export function intelBundleOf(fmspc: string, c: DcapCollateral): IntelCollateralBundle {
  return {
    fmspc: fmspc.toLowerCase(),
    tcbInfo: c.tcbInfo,
    tcbInfoSignature: c.tcbInfoSignature,
    tcbInfoIssuerChain: c.tcbInfoIssuerChain,
    qeIdentity: c.qeIdentity,
    qeIdentitySignature: c.qeIdentitySignature,
    qeIdentityIssuerChain: c.qeIdentityIssuerChain,
    pckCrl: toBase64(c.pckCrl),
    pckCrlIssuerChain: c.pckCrlIssuerChain,
    rootCaCrl: toBase64(c.rootCaCrl),
  }
}

/** Read and strictly parse a bundle file. @throws SdkError `ERR_SDK_CONFIG` */
export async function readCollateralBundle(path: string): Promise<CollateralBundle> {
  let text: string
  try {
    const bytes = await readFile(path)
    if (bytes.length > MAX_BUNDLE_BYTES) throw new RangeError('too large')
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONFIG', 'Cannot read the collateral bundle file', { cause })
  }
  return parseCollateralBundle(text)
}

/**
 * Write a bundle atomically (validated first, so a bundle that would not read back is never
 * written). @throws SdkError `ERR_SDK_CONFIG`
 */
export async function writeCollateralBundle(path: string, bundle: CollateralBundle): Promise<void> {
  const text = `${JSON.stringify(bundle, null, 2)}\n`
  parseCollateralBundle(text)
  let sink: Awaited<ReturnType<typeof createAtomicFileSink>>
  try {
    sink = await createAtomicFileSink(path, 0o644)
  } catch (cause) {
    throw new SdkError('ERR_SDK_CONFIG', 'Cannot write the collateral bundle file', { cause })
  }
  try {
    await sink.write(utf8(text))
    await sink.commit()
  } catch (cause) {
    await sink.abort()
    throw new SdkError('ERR_SDK_CONFIG', 'Cannot write the collateral bundle file', { cause })
  }
}
