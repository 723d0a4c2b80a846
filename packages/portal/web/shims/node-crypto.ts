// Browser stand-in for the few node:crypto functions that @subrosa/core and @subrosa/policy
// import. The portal never calls them (it hashes with WebCrypto); calling one is a bug.
function unavailable(name: string): never {
  throw new Error(`node:crypto ${name} is not available in the browser`)
}

export function createHash(_algorithm: string): never {
  return unavailable('createHash')
}

export function createHmac(_algorithm: string): never {
  return unavailable('createHmac')
}

export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return unavailable('timingSafeEqual of unequal lengths')
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number)
  return diff === 0
}

export function randomBytes(size: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(size))
}

export function randomUUID(): string {
  return crypto.randomUUID()
}

export function createPublicKey(_key: unknown): never {
  return unavailable('createPublicKey')
}

export function createCipheriv(_algorithm: string): never {
  return unavailable('createCipheriv')
}

export function createECDH(_curve: string): never {
  return unavailable('createECDH')
}

export const ECDH = {
  convertKey(): never {
    return unavailable('ECDH.convertKey')
  },
}

export function createPrivateKey(_key: unknown): never {
  return unavailable('createPrivateKey')
}

export function createSecretKey(_key: unknown): never {
  return unavailable('createSecretKey')
}

export function generateKeyPairSync(_type: string): never {
  return unavailable('generateKeyPairSync')
}

export function sign(): never {
  return unavailable('sign')
}

export function verify(): never {
  return unavailable('verify')
}

export class X509Certificate {
  constructor() {
    unavailable('X509Certificate')
  }
}

export const constants = {}
