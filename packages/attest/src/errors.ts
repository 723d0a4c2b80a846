import { BaseError } from '@subrosa/core'

/** Codes of `attest`, each with the one-line meaning published in docs/errors.md. */
export const ATTEST_ERRORS = {
  ERR_ATTEST_MALFORMED: 'Evidence cannot be parsed: wrong type, encoding, length or field.',
  ERR_ATTEST_SIGNATURE: 'The evidence signature does not verify.',
  ERR_ATTEST_UNTRUSTED_KEY: 'The evidence is signed by a key that is not a configured trust root.',
  ERR_ATTEST_EXPIRED: 'The evidence was issued outside the accepted time window.',
  ERR_ATTEST_UNSUPPORTED_TEE: 'No verifier exists (yet) for this TEE type.',
} as const

export type AttestErrorCode = keyof typeof ATTEST_ERRORS

export class AttestError extends BaseError<AttestErrorCode> {}
