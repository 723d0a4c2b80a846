/**
 * Intel DCAP collateral as the quote verifier takes it: signed JSON objects as their exact raw
 * text, signatures as hex, issuer chains as PEM, CRLs as DER.
 *
 * Structurally identical to `DcapCollateral` of `@subrosa/attest` (packages/attest/src/dcap/),
 * which is being written at the same time; to be replaced by an import of that type.
 */
export type DcapCollateral = {
  readonly tcbInfo: string
  readonly tcbInfoSignature: string
  readonly tcbInfoIssuerChain: string
  readonly qeIdentity: string
  readonly qeIdentitySignature: string
  readonly qeIdentityIssuerChain: string
  readonly pckCrl: Uint8Array
  readonly pckCrlIssuerChain: string
  readonly rootCaCrl: Uint8Array
}

/** AMD SEV-SNP product lines the KDS serves. */
export type SnpProduct = 'Milan' | 'Genoa' | 'Turin'

export const SNP_PRODUCTS: readonly SnpProduct[] = ['Milan', 'Genoa', 'Turin']
