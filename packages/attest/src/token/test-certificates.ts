// Test support only (not exported): X.509 certificates built with asn1js and signed with
// node:crypto, so token tests can make root -> intermediate -> leaf chains of their own.
import { createPublicKey, type KeyObject, randomBytes, sign } from 'node:crypto'
import * as asn1js from 'asn1js'

/** What one test certificate says. */
export type CertificateSpec = {
  readonly subject: string
  /** Issuer name and signing key; absent for a self-signed certificate. */
  readonly issuer?: { readonly name: string; readonly privateKey: KeyObject }
  readonly publicKey: KeyObject
  /** Private key of a self-signed certificate. */
  readonly privateKey?: KeyObject
  readonly notBefore: Date
  readonly notAfter: Date
  readonly ca: boolean
}

const OID = {
  commonName: '2.5.4.3',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  rsaSha256: '1.2.840.113549.1.1.11',
}

function name(cn: string): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      new asn1js.Set({
        value: [
          new asn1js.Sequence({
            value: [
              new asn1js.ObjectIdentifier({ value: OID.commonName }),
              new asn1js.Utf8String({ value: cn }),
            ],
          }),
        ],
      }),
    ],
  })
}

function algorithm(key: KeyObject): { oid: string; params: asn1js.AsnType[] } {
  return key.asymmetricKeyType === 'rsa'
    ? { oid: OID.rsaSha256, params: [new asn1js.Null()] }
    : { oid: OID.ecdsaSha256, params: [] }
}

function extension(oid: string, critical: boolean, value: asn1js.AsnType): asn1js.Sequence {
  return new asn1js.Sequence({
    value: [
      new asn1js.ObjectIdentifier({ value: oid }),
      new asn1js.Boolean({ value: critical }),
      new asn1js.OctetString({ valueHex: value.toBER() }),
    ],
  })
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

/** DER of a v3 certificate per `spec`. */
export function makeCertificate(spec: CertificateSpec): Uint8Array {
  const signer = spec.issuer?.privateKey ?? spec.privateKey
  if (signer === undefined) throw new TypeError('a self-signed certificate needs its private key')
  const alg = algorithm(signer)
  const algId = new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: alg.oid }), ...alg.params],
  })
  const spki = asn1js.fromBER(
    toArrayBuffer(spec.publicKey.export({ format: 'der', type: 'spki' })),
  ).result
  const serial = randomBytes(16)
  serial[0] = ((serial[0] as number) & 0x3f) | 0x40 // positive, minimal DER INTEGER
  // keyCertSign + cRLSign for CAs, digitalSignature for leaves.
  const usage = spec.ca ? new Uint8Array([0x01, 0x06]) : new Uint8Array([0x07, 0x80])
  const tbs = new asn1js.Sequence({
    value: [
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 0 },
        value: [new asn1js.Integer({ value: 2 })],
      }),
      new asn1js.Integer({ valueHex: toArrayBuffer(serial) }),
      algId,
      name(spec.issuer?.name ?? spec.subject),
      new asn1js.Sequence({
        value: [
          new asn1js.UTCTime({ valueDate: spec.notBefore }),
          new asn1js.UTCTime({ valueDate: spec.notAfter }),
        ],
      }),
      name(spec.subject),
      spki,
      new asn1js.Constructed({
        idBlock: { tagClass: 3, tagNumber: 3 },
        value: [
          new asn1js.Sequence({
            value: [
              extension(
                OID.basicConstraints,
                true,
                new asn1js.Sequence({
                  value: spec.ca ? [new asn1js.Boolean({ value: true })] : [],
                }),
              ),
              extension(
                OID.keyUsage,
                true,
                new asn1js.BitString({
                  valueHex: toArrayBuffer(usage.subarray(1)),
                  unusedBits: usage[0] as number,
                }),
              ),
            ],
          }),
        ],
      }),
    ],
  })
  const tbsDer = new Uint8Array(tbs.toBER())
  const signature = sign('sha256', tbsDer, signer)
  const cert = new asn1js.Sequence({
    value: [
      tbs,
      new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: alg.oid }), ...alg.params],
      }),
      new asn1js.BitString({ valueHex: toArrayBuffer(signature), unusedBits: 0 }),
    ],
  })
  return new Uint8Array(cert.toBER())
}

/** PEM of a DER certificate. */
export function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64')
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`
}

/** Standard base64 of a DER certificate, as `x5c` carries it. */
export function toX5c(der: Uint8Array): string {
  return Buffer.from(der).toString('base64')
}

/** The public half of a private key. */
export function publicOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey)
}
