import { BaseError } from '@subrosa/core'

/** Codes of `attest`, each with the one-line meaning published in docs/errors.md. */
export const ATTEST_ERRORS = {
  ERR_ATTEST_MALFORMED:
    'Evidence cannot be parsed: wrong type, encoding, length, version or field.',
  ERR_ATTEST_SIGNATURE:
    'A signature over the evidence (quote, QE report, SNP report, token, sim statement) does not verify.',
  ERR_ATTEST_UNTRUSTED_KEY:
    'The evidence or token is signed by a key that is not a configured trust root.',
  ERR_ATTEST_EXPIRED:
    'The evidence, a token or a certificate is outside its validity window at verification time.',
  ERR_ATTEST_UNSUPPORTED_TEE:
    'No verifier is configured for this TEE type (or this evidence format).',
  ERR_ATTEST_CHAIN:
    'A certificate chain does not verify (link signature, names, CA constraints, key usage).',
  ERR_ATTEST_UNTRUSTED_ROOT:
    'A certificate chain does not end in a pinned root (Intel SGX Root CA, AMD ARK).',
  ERR_ATTEST_REVOKED: 'A certificate of the chain is listed in a CRL.',
  ERR_ATTEST_CRL: 'A CRL is malformed, not signed by its issuer, or from another issuer.',
  ERR_ATTEST_COLLATERAL:
    'Collateral is missing, malformed or for another platform (FMSPC, PCE-ID, identity id).',
  ERR_ATTEST_COLLATERAL_SIGNATURE:
    'TCB Info or QE Identity is not signed by the Intel TCB signing key over its exact bytes.',
  ERR_ATTEST_COLLATERAL_EXPIRED:
    'TCB Info, QE Identity or a CRL is outside its issue/next-update window.',
  ERR_ATTEST_QE_BINDING:
    'The QE report does not bind the attestation key (SHA-256 of key and auth data).',
  ERR_ATTEST_QE_IDENTITY:
    'The quoting enclave does not match the QE Identity (MRSIGNER, product, attributes, miscselect).',
  ERR_ATTEST_TCB_NOT_SUPPORTED:
    'No TCB level of the TCB Info (or QE Identity) matches the platform: the TCB is not supported.',
  ERR_ATTEST_TDX_MODULE:
    'The TDX module does not match a module identity of the TCB Info (MRSIGNERSEAM, attributes, version).',
  ERR_ATTEST_TCB_MISMATCH:
    'The SEV-SNP reported TCB or chip id differs from the VCEK/VLEK certificate.',
  ERR_ATTEST_REPORT_DATA: 'The report data is not the expected value.',
  ERR_ATTEST_TOKEN:
    'An attestation token is malformed, or its issuer, audience or claims are not acceptable.',
} as const

export type AttestErrorCode = keyof typeof ATTEST_ERRORS

export class AttestError extends BaseError<AttestErrorCode> {}
