import { BaseError } from '@subrosa/core'

/** Codes of `protocol`, each with the one-line meaning published in docs/errors.md. */
export const PROTOCOL_ERRORS = {
  ERR_PROTOCOL_MALFORMED: 'A wire message does not match its schema.',
  ERR_TOKEN_INVALID: 'An attestation token is not a well-formed, supported JWT.',
  ERR_TOKEN_SIGNATURE: 'An attestation token is not signed by a key of the trusted issuer.',
  ERR_TOKEN_EXPIRED: 'An attestation token is expired or not yet valid.',
  ERR_TOKEN_CLAIMS: 'An attestation token has the wrong issuer or lacks a required claim.',
  ERR_TOKEN_AUDIENCE:
    'A service token (from token exchange) is for another audience than the service verifying it.',
  ERR_TOKEN_REPLAY: 'A service token was presented again: its jti is already in the replay cache.',
  ERR_JWE_DECRYPT: 'A JWE cannot be decrypted with the given key (wrong key or tampered).',
  ERR_ADMIN_PROOF:
    'An admin request proof is missing, malformed, stale, replayed or does not verify.',
  ERR_AUDIT_CHAIN:
    'An audit log or export has a changed, removed, inserted or reordered entry (the hash chain breaks).',
  ERR_AUDIT_CHECKPOINT:
    'A signed audit checkpoint is malformed, not signed by the broker, or disagrees with the chain.',
  ERR_POLICY_APPROVAL:
    "An owner's policy approval is malformed, does not verify or approves another version.",
} as const

export type ProtocolErrorCode = keyof typeof PROTOCOL_ERRORS

export class ProtocolError extends BaseError<ProtocolErrorCode> {}
