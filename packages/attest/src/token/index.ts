export { claimsFromEar, EAR_PROFILE } from './ear-claims.ts'
export { claimsFromMaa } from './maa-claims.ts'
export { ASYMMETRIC_ALGORITHMS } from './resolve-key.ts'
export {
  MAX_TOKEN_LENGTH,
  mapClaims,
  type TokenKind,
  type TokenVerdict,
  type TrustedIssuer,
  type VerifyTokenOptions,
  verifyAttestationToken,
} from './verify-attestation-token.ts'
export { MAX_X5C_LENGTH, verifyX5cChain } from './x5c-chain.ts'
