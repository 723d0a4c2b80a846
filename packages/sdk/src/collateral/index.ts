export {
  type AmdCollateralBundle,
  COLLATERAL_BUNDLE_FORMAT,
  type CollateralBundle,
  dcapCollateralOf,
  type IntelCollateralBundle,
  intelBundleOf,
  MAX_BUNDLE_BYTES,
  parseCollateralBundle,
  readCollateralBundle,
  writeCollateralBundle,
} from './bundle.ts'
export {
  type CachedResponse,
  type CollateralCache,
  type CollateralCacheOptions,
  createCollateralCache,
} from './cache.ts'
export { certificatePem } from './der.ts'
export {
  AMD_KDS_URL,
  createKdsClient,
  type KdsClient,
  type KdsClientOptions,
  type VcekTcb,
} from './kds-client.ts'
export {
  createPcsClient,
  type DcapCollateralRequest,
  INTEL_PCS_URL,
  INTEL_ROOT_CA_CRL_URL,
  type PcsClient,
  type PcsClientOptions,
  type SignedCollateral,
} from './pcs-client.ts'
export {
  type CollateralFile,
  type CollateralSources,
  collateralSources,
  collateralWire,
  firstCollateralSource,
  onlineCollateralSources,
} from './sources.ts'
export type { DcapCollateral } from './types.ts'
