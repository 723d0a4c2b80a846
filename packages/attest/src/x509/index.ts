export { type Certificate, parseCertificate, parsePemChain } from './certificate.ts'
export { type Crl, parseCrl, verifyCrl } from './crl.ts'
export {
  type BasicConstraints,
  basicConstraints,
  extensionCritical,
  extensionOids,
  extensionValue,
  type KeyUsage,
  keyUsage,
} from './extensions.ts'
export { type VerifyChainOptions, verifyChain } from './verify-chain.ts'
