// Test-only: a small AMD-shaped PKI built with node:crypto and asn1js. ARK and ASK are RSA keys
// signing with RSASSA-PSS/SHA-384 (as AMD's do), the VEK is an ECDSA P-384 key carrying the KDS
// extensions, CRLs are signed by the ARK. Also signs synthetic SNP reports. Not exported.
import { constants, createHash, generateKeyPairSync, type KeyObject, sign } from 'node:crypto'
import * as asn1js from 'asn1js'
import { VEK_OIDS } from './vek-extensions.ts'

const OID = {
  rsaPss: '1.2.840.113549.1.1.10',
  mgf1: '1.2.840.113549.1.1.8',
  sha384: '2.16.840.1.101.3.4.2.2',
  organization: '2.5.4.10',
  commonName: '2.5.4.3',
  subjectKeyId: '2.5.29.14',
  keyUsage: '2.5.29.15',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  authorityKeyId: '2.5.29.35',
} as const

type Asn = asn1js.AsnType
const der = (node: Asn): Uint8Array => new Uint8Array(node.toBER())
const seq = (...value: Asn[]) => new asn1js.Sequence({ value })
const oid = (value: string) => new asn1js.ObjectIdentifier({ value })
const int = (value: number | bigint) => asn1js.Integer.fromBigInt(value)
const explicit = (tagNumber: number, ...value: Asn[]) =>
  new asn1js.Constructed({ idBlock: { tagClass: 3, tagNumber }, value })
const time = (date: Date) =>
  date.getUTCFullYear() < 2050
    ? new asn1js.UTCTime({ valueDate: date })
    : new asn1js.GeneralizedTime({ valueDate: date })

const sha384Id = () => seq(oid(OID.sha384), new asn1js.Null())
/** RSASSA-PSS with SHA-384, MGF1-SHA-384, salt 48, trailer 1: AMD's parameters. */
const pssAlgorithm = () =>
  seq(
    oid(OID.rsaPss),
    seq(
      explicit(0, sha384Id()),
      explicit(1, seq(oid(OID.mgf1), sha384Id())),
      explicit(2, int(48)),
      explicit(3, int(1)),
    ),
  )

function name(cn: string): Asn {
  const rdn = (type: string, value: string) =>
    new asn1js.Set({ value: [seq(oid(type), new asn1js.Utf8String({ value }))] })
  return seq(rdn(OID.organization, 'Subrosa Test AMD'), rdn(OID.commonName, cn))
}

function extension(id: string, value: Uint8Array, critical = false): Asn {
  const parts: Asn[] = [oid(id)]
  if (critical) parts.push(new asn1js.Boolean({ value: true }))
  parts.push(new asn1js.OctetString({ valueHex: value }))
  return seq(...parts)
}

const keyId = (key: KeyObject) =>
  createHash('sha1')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest()
    .subarray(0, 20)

function pssSign(tbs: Uint8Array, key: KeyObject): Uint8Array {
  return new Uint8Array(
    sign('sha384', tbs, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 }),
  )
}

export type TestKey = { readonly publicKey: KeyObject; readonly privateKey: KeyObject }

export function rsaKey(): TestKey {
  return generateKeyPairSync('rsa', { modulusLength: 2048 })
}

export function p384Key(): TestKey {
  return generateKeyPairSync('ec', { namedCurve: 'P-384' })
}

export type CertSpec = {
  readonly serial: number | bigint
  readonly issuer: string
  readonly issuerKey: TestKey
  readonly subject: string
  readonly subjectKey: KeyObject
  readonly notBefore: Date
  readonly notAfter: Date
  /** CA with keyCertSign (and cRLSign when `crlSign`). */
  readonly ca?: { readonly crlSign: boolean }
  readonly extensions?: readonly { readonly oid: string; readonly value: Uint8Array }[]
}

/** A DER certificate signed with RSA-PSS/SHA-384 by `issuerKey`. */
export function certificate(spec: CertSpec): Uint8Array {
  const exts: Asn[] = [
    extension(OID.subjectKeyId, der(new asn1js.OctetString({ valueHex: keyId(spec.subjectKey) }))),
  ]
  if (spec.issuerKey.publicKey !== spec.subjectKey) {
    const aki = seq(
      new asn1js.Primitive({
        idBlock: { tagClass: 3, tagNumber: 0 },
        valueHex: keyId(spec.issuerKey.publicKey),
      }),
    )
    exts.push(extension(OID.authorityKeyId, der(aki)))
  }
  if (spec.ca !== undefined) {
    exts.push(extension(OID.basicConstraints, der(seq(new asn1js.Boolean({ value: true }))), true))
    const bits = spec.ca.crlSign ? 0x06 : 0x04 // keyCertSign (bit 5), cRLSign (bit 6)
    exts.push(extension(OID.keyUsage, Uint8Array.of(0x03, 0x02, 0x01, bits), true))
  }
  for (const e of spec.extensions ?? []) exts.push(extension(e.oid, e.value))
  const spki = asn1js.fromBER(spec.subjectKey.export({ type: 'spki', format: 'der' })).result
  const tbs = seq(
    explicit(0, int(2)),
    int(spec.serial),
    pssAlgorithm(),
    name(spec.issuer),
    seq(time(spec.notBefore), time(spec.notAfter)),
    name(spec.subject),
    spki,
    explicit(3, seq(...exts)),
  )
  const tbsDer = der(tbs)
  const signature = pssSign(tbsDer, spec.issuerKey.privateKey)
  return der(
    seq(
      asn1js.fromBER(tbsDer).result,
      pssAlgorithm(),
      new asn1js.BitString({ valueHex: signature }),
    ),
  )
}

export type CrlSpec = {
  readonly issuer: string
  readonly issuerKey: TestKey
  readonly thisUpdate: Date
  readonly nextUpdate: Date
  readonly revoked: readonly (number | bigint)[]
}

/** A DER CRL (v2) signed with RSA-PSS/SHA-384 by `issuerKey`. */
export function crl(spec: CrlSpec): Uint8Array {
  const parts: Asn[] = [
    int(1),
    pssAlgorithm(),
    name(spec.issuer),
    time(spec.thisUpdate),
    time(spec.nextUpdate),
  ]
  if (spec.revoked.length > 0) {
    parts.push(seq(...spec.revoked.map((serial) => seq(int(serial), time(spec.thisUpdate)))))
  }
  const aki = seq(
    new asn1js.Primitive({
      idBlock: { tagClass: 3, tagNumber: 0 },
      valueHex: keyId(spec.issuerKey.publicKey),
    }),
  )
  parts.push(
    explicit(
      0,
      seq(extension(OID.authorityKeyId, der(aki)), extension(OID.crlNumber, der(int(1)))),
    ),
  )
  const tbsDer = der(seq(...parts))
  const signature = pssSign(tbsDer, spec.issuerKey.privateKey)
  return der(
    seq(
      asn1js.fromBER(tbsDer).result,
      pssAlgorithm(),
      new asn1js.BitString({ valueHex: signature }),
    ),
  )
}

export type VekSpec = {
  readonly productName: string
  readonly tcb: {
    readonly bootloader: number
    readonly tee: number
    readonly snp: number
    readonly microcode: number
    readonly fmc?: number
  }
  /** VCEK: hwID; VLEK: cspID. */
  readonly hwId?: Uint8Array
  readonly cspId?: string
}

/** The KDS extensions of a VEK, as AMD encodes them (hwID raw, SPLs as INTEGERs). */
export function vekExtensions(spec: VekSpec): { oid: string; value: Uint8Array }[] {
  type Ext = { oid: string; value: Uint8Array }
  const ia5 = (value: string) => der(new asn1js.IA5String({ value }))
  const out: Ext[] = [
    { oid: VEK_OIDS.structVersion, value: der(int(0)) },
    { oid: VEK_OIDS.productName, value: ia5(spec.productName) },
    { oid: VEK_OIDS.blSpl, value: der(int(spec.tcb.bootloader)) },
    { oid: VEK_OIDS.teeSpl, value: der(int(spec.tcb.tee)) },
    { oid: VEK_OIDS.snpSpl, value: der(int(spec.tcb.snp)) },
    { oid: VEK_OIDS.ucodeSpl, value: der(int(spec.tcb.microcode)) },
  ]
  if (spec.tcb.fmc !== undefined) out.push({ oid: VEK_OIDS.fmcSpl, value: der(int(spec.tcb.fmc)) })
  if (spec.hwId !== undefined) out.push({ oid: VEK_OIDS.hwId, value: spec.hwId })
  if (spec.cspId !== undefined) out.push({ oid: VEK_OIDS.cspId, value: ia5(spec.cspId) })
  return out
}

/** Sign bytes 0x000..0x29F of a 1184-byte report in place with a P-384 key (R, S little-endian). */
export function signReport(report: Uint8Array, key: KeyObject): Uint8Array {
  const rs = sign('sha384', report.subarray(0, 0x2a0), { key, dsaEncoding: 'ieee-p1363' })
  report.fill(0, 0x2a0)
  report.set(Uint8Array.from(rs.subarray(0, 48)).reverse(), 0x2a0)
  report.set(Uint8Array.from(rs.subarray(48, 96)).reverse(), 0x2a0 + 72)
  return report
}
