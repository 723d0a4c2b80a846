import { BaseError } from '@subrosa/core'

/** Codes of `sdk` itself; errors answered by the broker keep the broker's code. */
export const SDK_ERRORS = {
  ERR_SDK_CONNECT:
    'The broker cannot be reached, or its TLS certificate is not issued by the pinned CA.',
  ERR_SDK_RESPONSE: 'The broker answered with something that is not the expected JSON.',
  ERR_SDK_CONFIG:
    'Client configuration (broker URL, CA file, owner key file) is missing or invalid.',
  ERR_SDK_ATTESTATION_NONCE: 'The broker answered its self-attestation for another nonce.',
  ERR_SDK_ATTESTATION_CERTIFICATE:
    "The broker's self-attestation binds another TLS certificate than the connection presented.",
  ERR_SDK_ATTESTATION_BINDING:
    "The broker's evidence report data does not bind its TLS certificate and the nonce.",
  ERR_SDK_COLUMN_KEYS:
    'A table with Always Encrypted columns cannot be read: it does not exist, or a column key record is invalid.',
  ERR_SDK_LOOKUP:
    'An equality lookup names a column the table does not have, or a randomized column (only deterministic ones compare).',
  ERR_SDK_CACHE_OPEN:
    'A sealed cache value does not open under its key: changed, moved from another key, or sealed with another key.',
  ERR_SDK_CACHE_UNAVAILABLE:
    'The cache (Redis or in-memory replay cache) cannot be reached, refused the TLS client, failed a command, or is full.',
} as const

export type SdkErrorCode = keyof typeof SDK_ERRORS

export class SdkError extends BaseError<SdkErrorCode> {}

/**
 * An error answered by the broker (RFC 7807). `code` is the broker's stable code (for example
 * `ERR_POLICY_DENIED`), `status` the HTTP status.
 */
export class BrokerCallError extends BaseError<string> {
  readonly status: number
  constructor(code: string, message: string, status: number, details?: Record<string, unknown>) {
    super(code, message, details === undefined ? {} : { details: details as never })
    this.status = status
  }
}
