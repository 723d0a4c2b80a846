// Node-only: the KBS resource JWE (RFC 7516 flattened, ECDH-ES+A256KW with A256GCM, RFC 7518
// §4.6 and §5.3) made with synchronous node:crypto calls. The broker encrypts one such JWE per
// release; jose's WebCrypto path (`encryptToKey`, kept for the browser) spends about five times
// the CPU on thread-pool hops and key imports. Decrypt either with `decryptWithKey` or any JOSE
// library.
import { createCipheriv, createECDH, createHash } from 'node:crypto'
import { type RandomBytes, toBase64Url, utf8 } from '@subrosa/core'
import type { FlattenedJWE } from 'jose'
import { ProtocolError } from './errors.ts'
import type { TeePublicKey } from './kbs.ts'

const ALG = 'ECDH-ES+A256KW'
/** RFC 3394 default initial value of AES Key Wrap. */
const KW_IV = Buffer.from('a6a6a6a6a6a6a6a6', 'hex')

/**
 * Encrypt bytes to a TEE's EC P-256 public key as a flattened JWE (ECDH-ES+A256KW, A256GCM), the
 * same format as {@link encryptToKey}, synchronously with node:crypto. `random` supplies the
 * content key and IV; the ephemeral key pair comes from OpenSSL.
 *
 * @example
 * const jwe = encryptToTeeKey(secret, identity.teeKey, systemRandom)
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` when `recipient` is not a point on P-256.
 */
export function encryptToTeeKey(
  plaintext: Uint8Array,
  recipient: TeePublicKey,
  random: RandomBytes,
): FlattenedJWE {
  // The ECDH object API: half the CPU of importing the recipient as a KeyObject and generating
  // the ephemeral pair with generateKeyPairSync. computeSecret refuses a point not on the curve.
  const ephemeral = createECDH('prime256v1')
  ephemeral.generateKeys()
  let z: Buffer
  try {
    z = ephemeral.computeSecret(uncompressedPoint(recipient))
  } catch (cause) {
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'The TEE key is not a P-256 public key', {
      cause,
    })
  }
  const epk = ephemeral.getPublicKey()
  const protectedHeader = toBase64Url(
    utf8(
      JSON.stringify({
        alg: ALG,
        enc: 'A256GCM',
        epk: {
          kty: 'EC',
          crv: 'P-256',
          x: toBase64Url(epk.subarray(1, 1 + COORDINATE)),
          y: toBase64Url(epk.subarray(1 + COORDINATE)),
        },
      }),
    ),
  )
  const kek = concatKdf(z)
  const cek = random(32)
  const iv = random(12)
  try {
    const wrap = createCipheriv('id-aes256-wrap', kek, KW_IV)
    const encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()])
    const gcm = createCipheriv('aes-256-gcm', cek, iv)
    gcm.setAAD(Buffer.from(protectedHeader, 'ascii'))
    const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()])
    return {
      protected: protectedHeader,
      encrypted_key: toBase64Url(encryptedKey),
      iv: toBase64Url(iv),
      ciphertext: toBase64Url(ciphertext),
      tag: toBase64Url(gcm.getAuthTag()),
    }
  } finally {
    cek.fill(0)
    kek.fill(0)
    z.fill(0)
  }
}

const COORDINATE = 32

/**
 * The SEC 1 uncompressed encoding (0x04 || x || y) of a P-256 JWK.
 *
 * @throws ProtocolError `ERR_PROTOCOL_MALFORMED` when a coordinate is not 32 bytes of base64url.
 */
export function uncompressedPoint(key: { readonly x: string; readonly y: string }): Buffer {
  const x = Buffer.from(key.x, 'base64url')
  const y = Buffer.from(key.y, 'base64url')
  if (
    x.length !== COORDINATE ||
    y.length !== COORDINATE ||
    toBase64Url(x) !== key.x ||
    toBase64Url(y) !== key.y
  )
    throw new ProtocolError('ERR_PROTOCOL_MALFORMED', 'The TEE key is not a P-256 public key')
  return Buffer.concat([Buffer.from([4]), x, y])
}

/**
 * The 256-bit key-encryption key from the shared secret `z`: Concat KDF (NIST SP 800-56A) with
 * SHA-256 over AlgorithmID "ECDH-ES+A256KW", empty PartyUInfo and PartyVInfo, SuppPubInfo 256.
 */
function concatKdf(z: Uint8Array): Buffer {
  const otherInfo = Buffer.alloc(4 + ALG.length + 4 + 4 + 4)
  let at = otherInfo.writeUInt32BE(ALG.length, 0)
  at += otherInfo.write(ALG, at, 'ascii')
  at = otherInfo.writeUInt32BE(0, at) // PartyUInfo: empty
  at = otherInfo.writeUInt32BE(0, at) // PartyVInfo: empty
  otherInfo.writeUInt32BE(256, at) // SuppPubInfo: key length in bits
  return createHash('sha256')
    .update(Buffer.from([0, 0, 0, 1]))
    .update(z)
    .update(otherInfo)
    .digest()
}
