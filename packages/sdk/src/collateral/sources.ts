// Collateral sources for the evidence verifier from collateral files: subrosa-collateral/v1
// bundles and dcap-qvl collateral JSON, each parsed once and looked up per quote or report.
import {
  type AmdVekRequest,
  type Certificate,
  type CrlMode,
  collateralFromDcapQvlJson,
  type DcapCollateralRequest,
  decodeSnpTcb,
  decodeVekExtensions,
  extensionValue,
  type ParsedDcapCollateral,
  parseDcapCollateral,
  parsePemChain,
  type SnpProduct,
  type VerifyEvidenceOptions,
} from '@subrosa/attest'
import { fromBase64, fromHex, isSubrosaError, toHex } from '@subrosa/core'
import type { CollateralWire } from '@subrosa/protocol'
import { SdkError } from '../errors.ts'
import {
  COLLATERAL_BUNDLE_FORMAT,
  type CollateralBundle,
  dcapCollateralOf,
  intelBundleOf,
  parseCollateralBundle,
} from './bundle.ts'
import type { KdsClient } from './kds-client.ts'
import type { PcsClient } from './pcs-client.ts'

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
    namingFile(file, () => {
      const read = readCollateralFile(file.text)
      if (read.kind === 'dcap-qvl') addIntel(intel, parseDcapCollateral(read.collateral))
      else addBundle(read.bundle, intel, amd)
    })
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

/** A collateral file's content: a `subrosa-collateral/v1` bundle, or dcap-qvl collateral JSON. */
type CollateralFileContent =
  | { readonly kind: 'bundle'; readonly bundle: CollateralBundle }
  | { readonly kind: 'dcap-qvl'; readonly collateral: ReturnType<typeof collateralFromDcapQvlJson> }

function readCollateralFile(text: string): CollateralFileContent {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new SdkError('ERR_SDK_CONFIG', 'it is not JSON')
  }
  const record = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {}
  if (record.format === COLLATERAL_BUNDLE_FORMAT) {
    return { kind: 'bundle', bundle: parseCollateralBundle(text) }
  }
  if (typeof record.tcb_info === 'string') {
    return { kind: 'dcap-qvl', collateral: collateralFromDcapQvlJson(text) }
  }
  throw new SdkError(
    'ERR_SDK_CONFIG',
    `it is neither a ${COLLATERAL_BUNDLE_FORMAT} bundle nor dcap-qvl collateral JSON`,
  )
}

/** `work` on a file, its failures (typed or not) reported as `ERR_SDK_CONFIG` naming the file. */
function namingFile<T>(file: CollateralFile, work: () => T): T {
  try {
    return work()
  } catch (cause) {
    const why = isSubrosaError(cause) ? cause.message : 'it cannot be read'
    throw new SdkError('ERR_SDK_CONFIG', `Collateral file ${file.name} cannot be used: ${why}`, {
      cause,
      details: { file: file.name },
    })
  }
}

function addBundle(bundle: CollateralBundle, intel: IntelEntry[], amd: AmdEntry[]): void {
  if (bundle.intel !== undefined) addIntel(intel, parseDcapCollateral(dcapCollateralOf(bundle)))
  if (bundle.amd === undefined) return
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

/**
 * Collateral fetched on demand: Intel's from a PCS or PCCS, AMD's VCEKs and CRLs from the KDS
 * (through the clients' caches). VLEKs are not served by the KDS: such reports must carry theirs.
 *
 * @example const online = onlineCollateralSources({ pcs: createPcsClient({ baseUrl, cache }) })
 */
export function onlineCollateralSources(
  clients: { readonly pcs?: PcsClient; readonly kds?: KdsClient },
  options: { readonly crls?: CrlMode } = {},
): CollateralSources {
  const { pcs, kds } = clients
  return {
    ...(pcs === undefined
      ? {}
      : {
          intel: {
            collateral: (request: DcapCollateralRequest) => pcs.getDcapCollateral(request),
            ...(options.crls === undefined ? {} : { crls: options.crls }),
          },
        }),
    ...(kds === undefined
      ? {}
      : {
          amd: {
            vek: async (request: AmdVekRequest) => {
              const tcb = fromHex(request.reportedTcb)
              if (request.signingKey !== 'vcek' || tcb === undefined) return undefined
              // Reports before version 3 do not name their product: ask for each that may apply.
              const products: SnpProduct[] =
                request.product === undefined ? ['Milan', 'Genoa'] : [request.product]
              let lastError: unknown
              for (const product of products) {
                try {
                  return await kds.getVcek({
                    product,
                    hwid: request.chipId,
                    tcb: decodeSnpTcb(tcb, product),
                  })
                } catch (error) {
                  if (!isSubrosaError(error) || error.code !== 'ERR_SDK_RESPONSE') throw error
                  lastError = error
                }
              }
              throw lastError
            },
            crl: (product: SnpProduct) => kds.getCrl(product),
          },
        }),
  }
}

/** Asks each source in turn (files before the network, say); the first answer wins. */
export function firstCollateralSource(...sources: readonly CollateralSources[]): CollateralSources {
  const intel = sources.flatMap((s) => (s.intel === undefined ? [] : [s.intel]))
  const amd = sources.flatMap((s) => (s.amd === undefined ? [] : [s.amd]))
  const first = async <T>(asks: readonly (() => Promise<T | undefined>)[]) => {
    for (const ask of asks) {
      const answer = await ask()
      if (answer !== undefined) return answer
    }
    return undefined
  }
  const crls = intel.find((s) => s.crls !== undefined)?.crls
  return {
    ...(intel.length === 0
      ? {}
      : {
          intel: {
            collateral: (request: DcapCollateralRequest) =>
              first(intel.map((s) => () => s.collateral(request))),
            ...(crls === undefined ? {} : { crls }),
          },
        }),
    ...(amd.length === 0
      ? {}
      : {
          amd: {
            vek: (request: AmdVekRequest) => first(amd.map((s) => async () => s.vek?.(request))),
            crl: (product: SnpProduct) => first(amd.map((s) => async () => s.crl?.(product))),
          },
        }),
  }
}

/**
 * A collateral file (bundle or dcap-qvl JSON) in the wire form a dry run sends to the broker.
 *
 * @throws SdkError `ERR_SDK_CONFIG` naming the file.
 */
export function collateralWire(file: CollateralFile): CollateralWire {
  return namingFile(file, () => {
    const read = readCollateralFile(file.text)
    if (read.kind === 'bundle') {
      const { intel, amd } = read.bundle
      return { ...(intel === undefined ? {} : { intel }), ...(amd === undefined ? {} : { amd }) }
    }
    const { fmspc } = JSON.parse(read.collateral.tcbInfo) as { fmspc?: unknown }
    return {
      intel: intelBundleOf(
        typeof fmspc === 'string' ? fmspc : '',
        read.collateral as Required<typeof read.collateral>,
      ),
    }
  })
}
