import { type Certificate, parseCertificate } from '@subrosa/attest'
import { SdkError } from '../errors.ts'
import type { CollateralCache } from './cache.ts'
import { crlDates, crlDer, earliestExpiry, parsePemChain } from './der.ts'
import { badResponse, baseUrlOf, type FetchContext, getCollateral } from './http.ts'
import { SNP_PRODUCTS, type SnpProduct } from './types.ts'

/** AMD's Key Distribution Service. */
export const AMD_KDS_URL = 'https://kdsintf.amd.com'
const SERVICE = 'AMD KDS'

/** Options of {@link createKdsClient}. */
export type KdsClientOptions = {
  readonly baseUrl: string
  readonly fetch?: typeof fetch
  readonly cache?: CollateralCache
  readonly now?: () => Date
  readonly timeoutMs?: number
}

/** The reported TCB a VCEK is issued for (SPL values; `fmc` for Turin only). */
export type VcekTcb = {
  readonly bootloader: number
  readonly tee: number
  readonly snp: number
  readonly microcode: number
  readonly fmc?: number
}

export type KdsClient = {
  /** The VCEK certificate (DER) of a chip (`hwid`: CHIP_ID, 64 bytes of hex) at a TCB. */
  getVcek(request: { product: SnpProduct; hwid: string; tcb: VcekTcb }): Promise<Uint8Array>
  /** `ASK then ARK` (vcek) or `ASVK then ARK` (vlek), PEM, as the KDS serves it. */
  getCertChain(product: SnpProduct, kind: 'vcek' | 'vlek'): Promise<string>
  /** The ARK-signed CRL (DER). */
  getCrl(product: SnpProduct, kind?: 'vcek' | 'vlek'): Promise<Uint8Array>
}

/**
 * A client of AMD's KDS (`/vcek/v1/...`, `/vlek/v1/...`). Certificates and CRLs are checked for
 * shape only; chains, signatures and TCB values are the SEV-SNP verifier's job.
 *
 * @example
 * const kds = createKdsClient({ baseUrl: AMD_KDS_URL, cache })
 * const vcek = await kds.getVcek({ product: 'Milan', hwid: chipIdHex, tcb: reportedTcb })
 *
 * @throws SdkError `ERR_SDK_CONFIG` (bad URL, product, hwid or TCB), `ERR_SDK_CONNECT`,
 * `ERR_SDK_RESPONSE` (HTTP status, or a body that is not the expected certificate or CRL).
 */
export function createKdsClient(options: KdsClientOptions): KdsClient {
  const base = baseUrlOf(options.baseUrl, SERVICE)
  const ctx: FetchContext = {
    fetch: options.fetch ?? globalThis.fetch,
    cache: options.cache,
    now: options.now ?? (() => new Date()),
    timeoutMs: options.timeoutMs ?? 30_000,
    service: SERVICE,
  }
  return {
    async getVcek({ product, hwid, tcb }) {
      checkProduct(product)
      const url = `${base}/vcek/v1/${product}/${chipPath(product, hwid)}?${splQuery(product, tcb)}`
      return getCollateral(ctx, url, [], (r) => {
        let cert: Certificate
        try {
          cert = parseCertificate(r.body)
        } catch {
          throw badResponse(SERVICE, 'VCEK', 'is not a certificate')
        }
        const expiry = earliestExpiry([cert])
        return expiry === undefined ? { value: r.body } : { value: r.body, nextUpdate: expiry }
      })
    },
    async getCertChain(product, kind) {
      checkProduct(product)
      checkKind(kind)
      return getCollateral(ctx, `${base}/${kind}/v1/${product}/cert_chain`, [], (r) => {
        const pem = Buffer.from(r.body).toString('utf8')
        const certs = parsePemChain(pem)
        if (certs?.length !== 2)
          throw badResponse(SERVICE, 'cert_chain', 'is not two PEM certificates')
        const expiry = earliestExpiry(certs)
        return expiry === undefined ? { value: pem } : { value: pem, nextUpdate: expiry }
      })
    },
    async getCrl(product, kind = 'vcek') {
      checkProduct(product)
      checkKind(kind)
      return getCollateral(ctx, `${base}/${kind}/v1/${product}/crl`, [], (r) => {
        const der = crlDer(r.body)
        const dates = der && crlDates(der)
        if (der === undefined || dates === undefined)
          throw badResponse(SERVICE, 'CRL', 'is not a CRL')
        return dates.nextUpdate === undefined
          ? { value: der }
          : { value: der, nextUpdate: dates.nextUpdate }
      })
    },
  }
}

function checkProduct(product: string): void {
  if (!SNP_PRODUCTS.some((p) => p === product)) {
    throw new SdkError(
      'ERR_SDK_CONFIG',
      `SEV-SNP product must be one of ${SNP_PRODUCTS.join(', ')}`,
    )
  }
}

function checkKind(kind: string): void {
  if (kind !== 'vcek' && kind !== 'vlek')
    throw new SdkError('ERR_SDK_CONFIG', 'Key kind must be vcek or vlek')
}

/** Milan and Genoa: the 64-byte hwid; Turin: its first 8 bytes. */
function chipPath(product: SnpProduct, hwid: string): string {
  const bytes = /^[0-9a-fA-F]*$/.test(hwid) ? hwid.length / 2 : 0
  if (product === 'Turin' ? bytes !== 8 && bytes !== 64 : bytes !== 64) {
    throw new SdkError(
      'ERR_SDK_CONFIG',
      `hwid must be ${product === 'Turin' ? '8 or ' : ''}64 bytes of hex`,
    )
  }
  return (product === 'Turin' ? hwid.slice(0, 16) : hwid).toLowerCase()
}

function splQuery(product: SnpProduct, tcb: VcekTcb): string {
  const spl = (name: string, value: number | undefined): string => {
    if (value === undefined || !Number.isInteger(value) || value < 0 || value > 255) {
      throw new SdkError('ERR_SDK_CONFIG', `VCEK TCB ${name} must be an integer in 0..255`)
    }
    return `${name}=${value}`
  }
  const parts = [
    spl('blSPL', tcb.bootloader),
    spl('teeSPL', tcb.tee),
    spl('snpSPL', tcb.snp),
    spl('ucodeSPL', tcb.microcode),
  ]
  return (product === 'Turin' ? [spl('fmcSPL', tcb.fmc), ...parts] : parts).join('&')
}
