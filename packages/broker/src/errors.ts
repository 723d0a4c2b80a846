import { BaseError } from '@subrosa/core'

/** Codes of `broker`, each with the one-line meaning published in docs/errors.md. */
export const BROKER_ERRORS = {
  ERR_BROKER_UNSEAL:
    'The unseal key does not open this broker state (wrong key or corrupted state).',
  ERR_BROKER_STATE:
    'The broker data directory is missing, incomplete or from an unknown schema version.',
  ERR_BROKER_KEK:
    'The key-encryption key is missing, wrong, not 32 bytes, or given for a state that has none.',
  ERR_BROKER_RECOVERY:
    'Root key recovery failed: too few or mismatched shares, a wrong reconstruction, or no recovery set up; nothing was changed.',
  ERR_BROKER_RECOVERY_SHARE:
    'A recovery share file is malformed or fails its checksum (mistyped or corrupted).',
  ERR_BROKER_UNAUTHENTICATED: 'The request carries no credentials where credentials are required.',
  ERR_BROKER_FORBIDDEN: 'The caller is authenticated but not allowed to do this.',
  ERR_BROKER_NOT_FOUND: 'The named policy, workload, key or secret does not exist.',
  ERR_BROKER_CONFLICT: 'A policy update does not name the current version as its predecessor.',
  ERR_BROKER_REPLAY: 'An admin request proof was already used.',
  ERR_BROKER_APPROVAL:
    "A policy change lacks the owners' approvals its threshold needs (unsigned, too few, or not by current owners).",
  ERR_BROKER_OWNER_REVOKED:
    'The owner key was revoked: it can no longer sign requests or approvals.',
  ERR_BROKER_AUDIT:
    'The audit log does not verify (an entry or checkpoint was altered); no checkpoint is signed over it.',
  ERR_BROKER_INTERNAL:
    'An unexpected broker failure; details are in the broker log, never in the response.',
  ERR_BROKER_METHOD_NOT_ALLOWED: 'The endpoint exists but not for this HTTP method (see Allow).',
  ERR_BROKER_BODY_TOO_LARGE: 'The request body exceeds the broker limit (1 MiB).',
  ERR_BROKER_MEDIA_TYPE: 'The request body is not application/json.',
  ERR_BROKER_RATE_LIMITED:
    'The client (IP address or owner) exceeded its rate limit; retry after Retry-After seconds.',
  ERR_BROKER_CLIENT_CERT:
    'An admin call without a TLS client certificate from the admin client CA (when required).',
  ERR_BROKER_UNAVAILABLE:
    'The broker is not ready: store unreachable, sealed, or draining before shutdown.',
  ERR_BROKER_CONFIG: 'A broker setting is malformed (e.g. a rate limit).',
  ERR_KBS_VERSION: 'The KBS protocol version of the request is not supported.',
  ERR_KBS_SESSION: 'No KBS session, or an unknown one, where the protocol needs one.',
  ERR_KBS_NONCE_USED: 'The KBS nonce of this session was already used for an attestation.',
  ERR_KBS_NONCE_EXPIRED: 'The KBS nonce of this session expired before the attestation arrived.',
  ERR_KBS_NONCE_MISMATCH: 'The runtime data carries another nonce than the session issued.',
  ERR_KBS_BINDING:
    "The evidence's report data is not the hash of the runtime data (nonce, TEE key, TLS certificate hash).",
  ERR_TOKEN_STALE:
    'The token was issued under a policy version that is no longer current; attest again.',
  ERR_TOKEN_REVOKED:
    'The token belongs to a job that ended or was revoked; it no longer releases keys or secrets.',
  ERR_JOB_REVOKED:
    'The job named in the attestation was revoked (ended or cancelled); a job id is never reused.',
  ERR_JOB_NONE: 'The token was issued without a job, so it has no job to end.',
  ERR_KMS_NOT_GRANTED: 'The workload is not granted this operation on this master key.',
  ERR_BROKER_SECRET_KIND:
    'The secret is of another kind than the request needs (e.g. importing a generated secret).',
  ERR_BROKER_SECRET_VALUE: 'An imported secret value is empty, too large or not base64.',
  ERR_EXCHANGE_UNSUPPORTED:
    'A token exchange request uses a grant type, token type or parameter (actor_token, resource, scope) the broker does not support.',
  ERR_EXCHANGE_NOT_ALLOWED:
    "The workload's policy does not list the requested audience in its calls.",
} as const

export type BrokerErrorCode = keyof typeof BROKER_ERRORS

export class BrokerError extends BaseError<BrokerErrorCode> {}

/**
 * The one table from error codes to HTTP statuses. Codes not listed are 400 when they come from
 * parsing untrusted input (see `statusOf`), 500 otherwise.
 */
export const HTTP_STATUS: Readonly<Record<string, number>> = {
  ERR_BROKER_UNAUTHENTICATED: 401,
  ERR_BROKER_FORBIDDEN: 403,
  ERR_BROKER_NOT_FOUND: 404,
  ERR_BROKER_CONFLICT: 409,
  ERR_BROKER_REPLAY: 401,
  ERR_BROKER_APPROVAL: 403,
  ERR_BROKER_OWNER_REVOKED: 403,
  ERR_BROKER_AUDIT: 500,
  ERR_POLICY_APPROVAL: 400,
  ERR_BROKER_INTERNAL: 500,
  ERR_BROKER_METHOD_NOT_ALLOWED: 405,
  ERR_BROKER_BODY_TOO_LARGE: 413,
  ERR_BROKER_MEDIA_TYPE: 415,
  ERR_BROKER_RATE_LIMITED: 429,
  ERR_BROKER_CLIENT_CERT: 401,
  ERR_BROKER_UNAVAILABLE: 503,
  ERR_BROKER_CONFIG: 500,
  ERR_BROKER_UNSEAL: 500,
  ERR_BROKER_STATE: 500,
  ERR_KBS_VERSION: 400,
  ERR_KBS_SESSION: 401,
  ERR_KBS_NONCE_USED: 401,
  ERR_KBS_NONCE_EXPIRED: 401,
  ERR_KBS_NONCE_MISMATCH: 401,
  ERR_KBS_BINDING: 401,
  ERR_TOKEN_STALE: 401,
  ERR_KMS_NOT_GRANTED: 403,
  ERR_TOKEN_REVOKED: 401,
  ERR_JOB_REVOKED: 403,
  ERR_JOB_NONE: 400,
  ERR_BROKER_SECRET_KIND: 409,
  ERR_BROKER_SECRET_VALUE: 400,
  ERR_EXCHANGE_UNSUPPORTED: 400,
  ERR_EXCHANGE_NOT_ALLOWED: 403,
  ERR_TOKEN_AUDIENCE: 401,
  ERR_TOKEN_REPLAY: 401,
  ERR_POLICY_DENIED: 403,
  ERR_POLICY_YAML: 400,
  ERR_POLICY_INVALID: 400,
  ERR_POLICY_UNKNOWN_WORKLOAD: 404,
  ERR_PROTOCOL_MALFORMED: 400,
  ERR_ADMIN_PROOF: 401,
  ERR_TOKEN_INVALID: 401,
  ERR_TOKEN_SIGNATURE: 401,
  ERR_TOKEN_EXPIRED: 401,
  ERR_TOKEN_CLAIMS: 401,
  ERR_ATTEST_MALFORMED: 400,
  ERR_ATTEST_SIGNATURE: 401,
  ERR_ATTEST_UNTRUSTED_KEY: 401,
  ERR_ATTEST_EXPIRED: 401,
  ERR_ATTEST_UNSUPPORTED_TEE: 400,
  ERR_CRYPTO_AUTH: 400,
  ERR_CRYPTO_WRAPPED_KEY_MALFORMED: 400,
  ERR_CRYPTO_KEY_LENGTH: 400,
}

/** HTTP status for an error code. */
export function statusOf(code: string): number {
  return HTTP_STATUS[code] ?? 500
}
