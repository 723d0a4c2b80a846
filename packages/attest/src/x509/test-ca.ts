// Test-only DER builder (asn1js + node:crypto): certificates and CRLs for synthetic PKIs.
// Not exported from the package; used by tests of x509/ and dcap/.
import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import * as asn1js from 'asn1js'

const ECDSA_SHA256 = '1.2.840.10045.4.3.2'
const CONTEXT = 3 // asn1js tag class numbering

export type TestKey = { readonly privateKey: KeyObject; readonly publicKey: KeyObject }

export function testKey(): TestKey {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
}

function name(cn: string): asn1js.Sequence {
  const rdn = (oid: string, value: string) =>
    new asn1js.Set({
      value: [
        new asn1js.Sequence({
          value: [new asn1js.ObjectIdentifier({ value: oid }), new asn1js.Utf8String({ value })],
        }),
      ],
    })
  return new asn1js.Sequence({
    value: [rdn('2.5.4.6', 'US'), rdn('2.5.4.10', 'Subrosa Test'), rdn('2.5.4.3', cn)],
  })
}

function time(date: Date): asn1js.UTCTime | asn1js.GeneralizedTime {
  return date.getUTCFullYear() < 2050
    ? new asn1js.UTCTime({ valueDate: date })
    : new asn1js.GeneralizedTime({ valueDate: date })
}

function algorithm(): asn1js.Sequence {
  return new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: ECDSA_SHA256 })] })
}

function integerFromHex(hex: string): asn1js.Integer {
  const padded = hex.length % 2 === 1 ? `0${hex}` : hex
  const bytes = Buffer.from(padded, 'hex')
  const value = (bytes[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes
  return new asn1js.Integer({ valueHex: new Uint8Array(value) })
}

function extension(oid: string, critical: boolean, value: asn1js.AsnType): asn1js.Sequence {
  const parts: asn1js.AsnType[] = [new asn1js.ObjectIdentifier({ value: oid })]
  if (critical) parts.push(new asn1js.Boolean({ value: true }))
  parts.push(new asn1js.OctetString({ valueHex: value.toBER() }))
  return new asn1js.Sequence({ value: parts })
}

function signed(tbs: asn1js.Sequence, key: KeyObject): Uint8Array {
  const tbsDer = new Uint8Array(tbs.toBER())
  const signature = sign('sha256', tbsDer, { key, dsaEncoding: 'der' })
  const outer = new asn1js.Sequence({
    value: [
      asn1js.fromBER(tbsDer).result,
      algorithm(),
      new asn1js.BitString({ valueHex: new Uint8Array(signature) }),
    ],
  })
  return new Uint8Array(outer.toBER())
}

export type TestCertificateOptions = {
  readonly subject: string
  readonly issuer: string
  readonly serial: string
  readonly publicKey: KeyObject
  readonly signingKey: KeyObject
  readonly notBefore: Date
  readonly notAfter: Date
  /** CA with optional pathLen; omitted for a leaf (no basicConstraints at all when 'none'). */
  readonly ca?: boolean | 'none'
  readonly pathLen?: number
  /** keyUsage bits as a byte, e.g. 0x06 for keyCertSign|cRLSign; omitted when undefined. */
  readonly keyUsage?: number
  readonly extraExtensions?: readonly { oid: string; critical: boolean; der: Uint8Array }[]
}

/** A certificate signed with ECDSA P-256/SHA-256. */
export function testCertificate(o: TestCertificateOptions): Uint8Array {
  const extensions: asn1js.AsnType[] = []
  if (o.ca !== 'none') {
    const bc: asn1js.AsnType[] = []
    if (o.ca === true) bc.push(new asn1js.Boolean({ value: true }))
    if (o.pathLen !== undefined) bc.push(new asn1js.Integer({ value: o.pathLen }))
    extensions.push(extension('2.5.29.19', true, new asn1js.Sequence({ value: bc })))
  }
  if (o.keyUsage !== undefined) {
    const ku = new asn1js.BitString({ valueHex: new Uint8Array([o.keyUsage]), unusedBits: 1 })
    extensions.push(extension('2.5.29.15', true, ku))
  }
  for (const e of o.extraExtensions ?? []) {
    extensions.push(extension(e.oid, e.critical, asn1js.fromBER(e.der).result))
  }
  const spki = asn1js.fromBER(new Uint8Array(o.publicKey.export({ type: 'spki', format: 'der' })))
  const tbs = new asn1js.Sequence({
    value: [
      new asn1js.Constructed({
        idBlock: { tagClass: CONTEXT, tagNumber: 0 },
        value: [new asn1js.Integer({ value: 2 })],
      }),
      integerFromHex(o.serial),
      algorithm(),
      name(o.issuer),
      new asn1js.Sequence({ value: [time(o.notBefore), time(o.notAfter)] }),
      name(o.subject),
      spki.result,
      new asn1js.Constructed({
        idBlock: { tagClass: CONTEXT, tagNumber: 3 },
        value: [new asn1js.Sequence({ value: extensions })],
      }),
    ],
  })
  return signed(tbs, o.signingKey)
}

export type TestCrlOptions = {
  readonly issuer: string
  readonly signingKey: KeyObject
  readonly thisUpdate: Date
  readonly nextUpdate: Date
  readonly revoked: readonly string[]
}

/** A v2 CRL signed with ECDSA P-256/SHA-256. */
export function testCrl(o: TestCrlOptions): Uint8Array {
  const fields: asn1js.AsnType[] = [
    new asn1js.Integer({ value: 1 }),
    algorithm(),
    name(o.issuer),
    time(o.thisUpdate),
    time(o.nextUpdate),
  ]
  if (o.revoked.length > 0) {
    fields.push(
      new asn1js.Sequence({
        value: o.revoked.map(
          (serial) => new asn1js.Sequence({ value: [integerFromHex(serial), time(o.thisUpdate)] }),
        ),
      }),
    )
  }
  return signed(new asn1js.Sequence({ value: fields }), o.signingKey)
}

/** A three-level test PKI (root, intermediate CA, leaf) valid 2020..2040. */
export function testPki(leafKey: TestKey = testKey()) {
  const notBefore = new Date('2020-01-01T00:00:00Z')
  const notAfter = new Date('2040-01-01T00:00:00Z')
  const rootKey = testKey()
  const caKey = testKey()
  const root = testCertificate({
    subject: 'Test Root CA',
    issuer: 'Test Root CA',
    serial: '01',
    publicKey: rootKey.publicKey,
    signingKey: rootKey.privateKey,
    notBefore,
    notAfter,
    ca: true,
    pathLen: 1,
    keyUsage: 0x06,
  })
  const ca = testCertificate({
    subject: 'Test Intermediate CA',
    issuer: 'Test Root CA',
    serial: '02',
    publicKey: caKey.publicKey,
    signingKey: rootKey.privateKey,
    notBefore,
    notAfter,
    ca: true,
    pathLen: 0,
    keyUsage: 0x06,
  })
  const leaf = testCertificate({
    subject: 'Test Leaf',
    issuer: 'Test Intermediate CA',
    serial: 'a1b2c3',
    publicKey: leafKey.publicKey,
    signingKey: caKey.privateKey,
    notBefore,
    notAfter,
    ca: false,
    keyUsage: 0x80,
  })
  return { root, ca, leaf, rootKey, caKey, leafKey, notBefore, notAfter }
}
