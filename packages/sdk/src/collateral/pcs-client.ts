import { fromUtf8 } from '@subrosa/core'
import { SdkError } from '../errors.ts'
import type { CachedResponse, CollateralCache } from './cache.ts'
import { crlDates, crlDer, parsePemChain } from './der.ts'
import { badResponse, baseUrlOf, type FetchContext, getCollateral, type Parsed } from './http.ts'
import { rawMembers } from './raw-json.ts'
import type { DcapCollateral } from './types.ts'

/** Intel's Provisioning Certification Service. */
export const INTEL_PCS_URL = 'https://api.trustedservices.intel.com'
/** Where Intel publishes the SGX Root CA CRL (PCS has no v4 endpoint for it; a PCCS does). */
export const INTEL_ROOT_CA_CRL_URL =
  'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der'

const TCB_INFO_CHAIN = ['TCB-Info-Issuer-Chain', 'SGX-TCB-Info-Issuer-Chain'] as const
const QE_IDENTITY_CHAIN = ['SGX-Enclave-Identity-Issuer-Chain'] as const
const PCK_CRL_CHAIN = ['SGX-PCK-CRL-Issuer-Chain'] as const
const SERVICE = 'Intel PCS'

/** Options of {@link createPcsClient}. */
export type PcsClientOptions = {
  /** `https://api.trustedservices.intel.com` or a PCCS. */
  readonly baseUrl: string
  /** Default: Intel's certificates site for the PCS, `<baseUrl>/sgx/certification/v4/rootcacrl` otherwise. */
  readonly rootCaCrlUrl?: string
  readonly fetch?: typeof fetch
  readonly cache?: CollateralCache
  readonly now?: () => Date
  readonly timeoutMs?: number
}

/** A signed PCS object: its exact raw JSON text, the hex signature and the PEM issuer chain. */
export type SignedCollateral = {
  readonly raw: string
  readonly signature: string
  readonly issuerChain: string
}

/** What {@link PcsClient.getDcapCollateral} fetches. */
export type DcapCollateralRequest = {
  readonly tee: 'sgx' | 'tdx'
  /** 6 bytes, hex, from the PCK certificate. */
  readonly fmspc: string
  /** The PCK CA that issued the PCK certificate. */
  readonly ca: 'platform' | 'processor'
}

export type PcsClient = {
  /** TCB info, QE identity, PCK CRL and root CA CRL for one platform, fetched concurrently. */
  getDcapCollateral(request: DcapCollateralRequest): Promise<DcapCollateral>
  getTcbInfo(tee: 'sgx' | 'tdx', fmspc: string): Promise<SignedCollateral>
  getQeIdentity(tee: 'sgx' | 'tdx'): Promise<SignedCollateral>
  getPckCrl(ca: 'platform' | 'processor'): Promise<{ crl: Uint8Array; issuerChain: string }>
  getRootCaCrl(): Promise<Uint8Array>
}

/**
 * A client of the Intel PCS v4 API (or a PCCS). Signed objects are returned as the raw
 * substrings of the response bodies, never re-serialized; issuer chains come from the
 * URL-encoded response headers. Nothing is verified here: that is the DCAP verifier's job.
 *
 * @example
 * const pcs = createPcsClient({ baseUrl: INTEL_PCS_URL, cache })
 * const collateral = await pcs.getDcapCollateral({ tee: 'tdx', fmspc, ca: 'platform' })
 *
 * @throws SdkError `ERR_SDK_CONFIG` (bad URL or request), `ERR_SDK_CONNECT`, `ERR_SDK_RESPONSE`
 * (HTTP status, missing header, body that is not the expected object or CRL).
 */
export function createPcsClient(options: PcsClientOptions): PcsClient {
  const base = baseUrlOf(options.baseUrl, SERVICE)
  const rootCaCrlUrl =
    options.rootCaCrlUrl ??
    (new URL(base).hostname === new URL(INTEL_PCS_URL).hostname
      ? INTEL_ROOT_CA_CRL_URL
      : `${base}/sgx/certification/v4/rootcacrl`)
  baseUrlOf(rootCaCrlUrl, 'Root CA CRL')
  const ctx: FetchContext = {
    fetch: options.fetch ?? globalThis.fetch,
    cache: options.cache,
    now: options.now ?? (() => new Date()),
    timeoutMs: options.timeoutMs ?? 30_000,
    service: SERVICE,
  }

  const getTcbInfo = (tee: 'sgx' | 'tdx', fmspc: string) => {
    checkTee(tee)
    if (!/^[0-9a-fA-F]{12}$/.test(fmspc)) {
      throw new SdkError('ERR_SDK_CONFIG', 'FMSPC must be 6 bytes of hex')
    }
    const url = `${base}/${tee}/certification/v4/tcb?fmspc=${fmspc.toLowerCase()}`
    return getCollateral(ctx, url, TCB_INFO_CHAIN, (r) =>
      signedObject(r, 'tcbInfo', TCB_INFO_CHAIN, (o) => {
        const id = o.id ?? 'SGX' // TCB info v2 (SGX only) has no id
        return id === tee.toUpperCase() && String(o.fmspc).toLowerCase() === fmspc.toLowerCase()
      }),
    )
  }
  const getQeIdentity = (tee: 'sgx' | 'tdx') => {
    checkTee(tee)
    const url = `${base}/${tee}/certification/v4/qe/identity`
    const id = tee === 'sgx' ? 'QE' : 'TD_QE'
    return getCollateral(ctx, url, QE_IDENTITY_CHAIN, (r) =>
      signedObject(r, 'enclaveIdentity', QE_IDENTITY_CHAIN, (o) => o.id === id),
    )
  }
  const getPckCrl = (ca: 'platform' | 'processor') => {
    if (ca !== 'platform' && ca !== 'processor') {
      throw new SdkError('ERR_SDK_CONFIG', 'PCK CA must be platform or processor')
    }
    const url = `${base}/sgx/certification/v4/pckcrl?ca=${ca}&encoding=der`
    return getCollateral(ctx, url, PCK_CRL_CHAIN, (r) => {
      const { value: crl, nextUpdate } = crlOf(r, 'PCK CRL')
      return {
        value: { crl, issuerChain: issuerChain(r, PCK_CRL_CHAIN, 'PCK CRL') },
        ...(nextUpdate === undefined ? {} : { nextUpdate }),
      }
    })
  }
  const getRootCaCrl = () => getCollateral(ctx, rootCaCrlUrl, [], (r) => crlOf(r, 'Root CA CRL'))

  return {
    getTcbInfo: async (tee, fmspc) => getTcbInfo(tee, fmspc),
    getQeIdentity: async (tee) => getQeIdentity(tee),
    getPckCrl: async (ca) => getPckCrl(ca),
    getRootCaCrl,
    async getDcapCollateral({ tee, fmspc, ca }) {
      const [tcbInfo, qeIdentity, pckCrl, rootCaCrl] = await Promise.all([
        getTcbInfo(tee, fmspc),
        getQeIdentity(tee),
        getPckCrl(ca),
        getRootCaCrl(),
      ])
      return {
        tcbInfo: tcbInfo.raw,
        tcbInfoSignature: tcbInfo.signature,
        tcbInfoIssuerChain: tcbInfo.issuerChain,
        qeIdentity: qeIdentity.raw,
        qeIdentitySignature: qeIdentity.signature,
        qeIdentityIssuerChain: qeIdentity.issuerChain,
        pckCrl: pckCrl.crl,
        pckCrlIssuerChain: pckCrl.issuerChain,
        rootCaCrl,
      }
    },
  }
}

function checkTee(tee: string): void {
  if (tee !== 'sgx' && tee !== 'tdx') throw new SdkError('ERR_SDK_CONFIG', 'TEE must be sgx or tdx')
}

/** `{"<member>":{…},"signature":"<hex>"}`: the raw member text, its signature and chain. */
function signedObject(
  response: CachedResponse,
  member: string,
  chainHeaders: readonly string[],
  fits: (object: Record<string, unknown>) => boolean,
): Parsed<SignedCollateral> {
  let text: string
  try {
    text = fromUtf8(response.body)
  } catch {
    throw badResponse(SERVICE, member, 'response is not UTF-8')
  }
  const members = rawMembers(text, `${SERVICE} ${member} response`)
  const raw = members.get(member)
  const signatureJson = members.get('signature')
  const object: unknown = raw === undefined ? undefined : JSON.parse(raw)
  const signature: unknown = signatureJson === undefined ? undefined : JSON.parse(signatureJson)
  if (raw === undefined || typeof object !== 'object' || object === null || Array.isArray(object)) {
    throw badResponse(SERVICE, member, 'response has no signed object')
  }
  if (typeof signature !== 'string' || !/^[0-9a-fA-F]{128}$/.test(signature)) {
    throw badResponse(SERVICE, member, 'signature is not 64 bytes of hex')
  }
  const record = object as Record<string, unknown>
  if (!fits(record)) throw badResponse(SERVICE, member, 'is for another TEE, FMSPC or identity')
  const nextUpdate = typeof record.nextUpdate === 'string' ? Date.parse(record.nextUpdate) : NaN
  return {
    value: { raw, signature, issuerChain: issuerChain(response, chainHeaders, member) },
    ...(Number.isNaN(nextUpdate) ? {} : { nextUpdate: new Date(nextUpdate) }),
  }
}

/** The URL-decoded PEM chain of the first present header of `names`. */
function issuerChain(response: CachedResponse, names: readonly string[], what: string): string {
  const encoded = names.map((n) => response.headers[n.toLowerCase()]).find((v) => v !== undefined)
  if (encoded === undefined) throw badResponse(SERVICE, what, `response lacks ${names[0]} header`)
  let pem: string
  try {
    pem = decodeURIComponent(encoded)
  } catch {
    throw badResponse(SERVICE, what, 'issuer chain header is not URL-encoded')
  }
  if (parsePemChain(pem) === undefined) {
    throw badResponse(SERVICE, what, 'issuer chain header is not a PEM certificate chain')
  }
  return pem
}

function crlOf(response: CachedResponse, what: string): Parsed<Uint8Array> {
  const der = crlDer(response.body)
  const dates = der && crlDates(der)
  if (der === undefined || dates === undefined) throw badResponse(SERVICE, what, 'is not a CRL')
  return dates.nextUpdate === undefined
    ? { value: der }
    : { value: der, nextUpdate: dates.nextUpdate }
}
