import type { DcapCollateral as VerifierCollateral } from '@subrosa/attest'

/**
 * Intel DCAP collateral as fetched from the PCS or a PCCS: the verifier's `DcapCollateral` with
 * both CRLs present (signed JSON objects as their exact raw text, signatures as hex, issuer
 * chains as PEM, CRLs as DER).
 */
export type DcapCollateral = Required<VerifierCollateral>

export type { SnpProduct } from '@subrosa/attest'

export { SNP_PRODUCTS } from '@subrosa/attest'
