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
  ERR_ATTESTED_EXPECTATION:
    'An attestedFetch expectation is incomplete: it needs issuer, JWKS, workload and a measurement or signer.',
  ERR_ATTESTED_CONNECT:
    'The attested service cannot be reached over TLS 1.3, or the connection changed between attestation and request.',
  ERR_ATTESTED_RESPONSE:
    'The attested service answered with something that is not its token or an answer encrypted to the reply key.',
  ERR_ATTESTED_TOKEN: "The service's attestation token is malformed or lacks required claims.",
  ERR_ATTESTED_ISSUER: "The service's token is not issued by the expected (pinned) broker.",
  ERR_ATTESTED_SIGNATURE: "The service's token is not signed by a key of the pinned broker's JWKS.",
  ERR_ATTESTED_EXPIRED: "The service's token is expired or not yet valid.",
  ERR_ATTESTED_WORKLOAD:
    "The service's token attests another namespace, policy or workload than the one expected.",
  ERR_ATTESTED_POLICY:
    "The service's token names another policy version (hash) than the pinned one.",
  ERR_ATTESTED_STATUS: "The broker's appraisal of the service is not affirming.",
  ERR_ATTESTED_MEASUREMENT: 'The service runs another measurement than the expected ones.',
  ERR_ATTESTED_SIGNER: 'The service is signed by another signer than the expected ones.',
  ERR_ATTESTED_DEBUG: 'The service runs in a debug-mode TEE (its memory is readable by the host).',
  ERR_ATTESTED_TCB: "The service's platform TCB status is not one of the allowed statuses.",
  ERR_ATTESTED_SIM:
    'The service runs in the sim TEE (no hardware protection) and the caller did not allow it.',
  ERR_ATTESTED_TLS_BINDING:
    "The service's TLS certificate is not the one its token binds (relay, or another server).",
  ERR_ATTESTED_REFUSED: 'The attested service refused the request (details.code says why).',
  ERR_ATTESTED_UNAUTHENTICATED: 'A request to an attested service carries no bearer token.',
  ERR_ATTESTED_REQUEST:
    'A request to an attested service is not a JWE to its key with a JSON payload and a reply key.',
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
