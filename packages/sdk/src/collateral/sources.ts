// Collateral sources for the evidence verifier from collateral files: subrosa-collateral/v1
// bundles and dcap-qvl collateral JSON, each parsed once and looked up per quote or report.
import {
  type AmdVekRequest,
  type Certificate,
  type CrlMode,
  collateralFromDcapQvlJson,
  type DcapCollateralRequest,
  decodeVekExtensions,
  extensionValue,
  type ParsedDcapCollateral,
  parseDcapCollateral,
  parsePemChain,
  type SnpProduct,
  type VerifyEvidenceOptions,
} from '@subrosa/attest'
import { fromBase64, isSubrosaError, toHex } from '@subrosa/core'
import { SdkError } from '../errors.ts'
import { COLLATERAL_BUNDLE_FORMAT, dcapCollateralOf, parseCollateralBundle } from './bundle.ts'

/** A collateral file's name (for errors) and text. */
export type CollateralFile = { readonly name: string; readonly text: string }

/** The verifier options that collateral files provide. */
export type CollateralSources = Pick<VerifyEvidenceOptions, 'intel' | 'amd'>

type IntelEntry = { readonly tee: 'sgx' | 'tdx'; readonly parsed: ParsedDcapCollateral }
type AmdEntry = {
  readonly product: SnpProduct
  readonly vek: Certificate
  readonly hwId?: string
  readonly crl?: Uint8Array
}

/**
 * Parses collateral files once and returns lookups by FMSPC (Intel) and chip (AMD) for
 * `verifyEvidence`. Each file is a `subrosa-collateral/v1` bundle or dcap-qvl collateral JSON.
 * Nothing is trusted by being here: the verifier checks every signature against pinned roots.
 *
 * @example const sources = collateralSources([{ name, text }], { crls: 'required' })
 * @throws SdkError `ERR_SDK_CONFIG` naming the file that cannot be used, and why.
 */
export function collateralSources(
  files: readonly CollateralFile[],
  options: { readonly crls?: CrlMode } = {},
): CollateralSources {
  const intel: IntelEntry[] = []
  const amd: AmdEntry[] = []
  for (const file of files) {
    try {
      readFile(file.text, intel, amd)
    } catch (cause) {
      const why = isSubrosaError(cause) ? cause.message : 'it cannot be read'
      throw new SdkError('ERR_SDK_CONFIG', `Collateral file ${file.name} cannot be used: ${why}`, {
        cause,
        details: { file: file.name },
      })
    }
  }
  return {
    ...(intel.length === 0
      ? {}
      : {
          intel: {
            collateral: async (request: DcapCollateralRequest) =>
              intel.find((e) => e.tee === request.tee && e.parsed.tcbInfo.fmspc === request.fmspc)
                ?.parsed,
            ...(options.crls === undefined ? {} : { crls: options.crls }),
          },
        }),
    ...(amd.length === 0
      ? {}
      : {
          amd: {
            vek: async (request: AmdVekRequest) => amdEntry(amd, request)?.vek,
            crl: async (product: SnpProduct) => amd.find((e) => e.product === product)?.crl,
          },
        }),
  }
}

function readFile(text: string, intel: IntelEntry[], amd: AmdEntry[]): void {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new SdkError('ERR_SDK_CONFIG', 'it is not JSON')
  }
  const record = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {}
  if (record.format === COLLATERAL_BUNDLE_FORMAT) {
    const bundle = parseCollateralBundle(text)
    if (bundle.intel !== undefined) addIntel(intel, parseDcapCollateral(dcapCollateralOf(bundle)))
    if (bundle.amd !== undefined) {
      const vek = parsePemChain(bundle.amd.vek)[0]
      if (vek === undefined) throw new SdkError('ERR_SDK_CONFIG', 'amd.vek is not PEM')
      const ext = decodeVekExtensions((oid) => extensionValue(vek, oid))
      const crl = bundle.amd.crl === undefined ? undefined : fromBase64(bundle.amd.crl)
      amd.push({
        product: bundle.amd.product,
        vek,
        ...(ext.hwId === undefined ? {} : { hwId: toHex(ext.hwId) }),
        ...(crl === undefined ? {} : { crl }),
      })
    }
    return
  }
  if (typeof record.tcb_info === 'string') {
    addIntel(intel, parseDcapCollateral(collateralFromDcapQvlJson(text)))
    return
  }
  throw new SdkError(
    'ERR_SDK_CONFIG',
    `it is neither a ${COLLATERAL_BUNDLE_FORMAT} bundle nor dcap-qvl collateral JSON`,
  )
}

function addIntel(intel: IntelEntry[], parsed: ParsedDcapCollateral): void {
  intel.push({ tee: parsed.tcbInfo.id === 'TDX' ? 'tdx' : 'sgx', parsed })
}

/** The chip's own VCEK when one matches its CHIP_ID, else the only entry of the product. */
function amdEntry(entries: readonly AmdEntry[], request: AmdVekRequest): AmdEntry | undefined {
  const chip = request.chipId.toLowerCase()
  const own = entries.find((e) => e.hwId !== undefined && chip.startsWith(e.hwId))
  if (own !== undefined) return own
  const candidates = entries.filter(
    (e) => request.product === undefined || e.product === request.product,
  )
  return candidates.length === 1 ? candidates[0] : undefined
}
