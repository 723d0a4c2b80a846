// @peculiar/x509 2.x resolves its services through tsyringe, which needs the Reflect metadata
// polyfill loaded first.
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'
import { toHex } from '@subrosa/core'

type CryptoKey = webcrypto.CryptoKey
type CryptoKeyPair = webcrypto.CryptoKeyPair

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const
const crypto = webcrypto

/** The broker's certificate authority: PEM certificate and PKCS#8 private key. */
export type CaMaterial = { readonly certPem: string; readonly keyPem: string }

/** A TLS server certificate issued by the broker CA (key generated fresh, never stored). */
export type ServerCredentials = { readonly certPem: string; readonly keyPem: string }

/** Create the broker CA (EC P-256, 10 years), pinned by the CLI, launcher and sdk. */
export async function createCa(now: Date, serial: Uint8Array): Promise<CaMaterial> {
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: toHex(positive(serial)),
      name: 'CN=Subrosa Broker CA, O=Subrosa',
      notBefore: now,
      notAfter: addDays(now, 3650),
      keys,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
          true,
        ),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  )
  return { certPem: cert.toString('pem'), keyPem: await exportPkcs8(keys.privateKey) }
}

/** Issue a fresh server certificate for the given DNS names and IP addresses (1 year). */
export async function issueServerCertificate(
  ca: CaMaterial,
  hosts: readonly string[],
  now: Date,
  serial: Uint8Array,
): Promise<ServerCredentials> {
  const caCert = new x509.X509Certificate(ca.certPem)
  const caKey = await crypto.subtle.importKey('pkcs8', pemBody(ca.keyPem), EC, false, ['sign'])
  const keys = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair
  const names = hosts.map((h) => ({ type: isIp(h) ? ('ip' as const) : ('dns' as const), value: h }))
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: toHex(positive(serial)),
      subject: 'CN=subrosa-broker',
      issuer: caCert.subject,
      notBefore: now,
      notAfter: addDays(now, 365),
      signingKey: caKey,
      publicKey: keys.publicKey,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(names),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  )
  return { certPem: cert.toString('pem'), keyPem: await exportPkcs8(keys.privateKey) }
}

/** A generated key pair as PEM: PKCS#8 private key and SPKI public key. */
export type KeyPairPem = { readonly privatePem: string; readonly publicPem: string }

/** Key types the broker generates for key-pair and certificate secrets. */
export type GeneratedKeyType =
  | { readonly type: 'ec'; readonly curve: 'P-256' | 'P-384' }
  | { readonly type: 'rsa'; readonly bits: 2048 | 3072 | 4096 }

async function generateKeys(key: GeneratedKeyType): Promise<CryptoKeyPair> {
  const algorithm =
    key.type === 'ec'
      ? { name: 'ECDSA', namedCurve: key.curve }
      : {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: key.bits,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        }
  return (await crypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as CryptoKeyPair
}

/** Generate an EC or RSA key pair, PEM-encoded (PKCS#8 private, SPKI public). */
export async function generateKeyPairPem(key: GeneratedKeyType): Promise<KeyPairPem> {
  const keys = await generateKeys(key)
  return { privatePem: await exportPkcs8(keys.privateKey), publicPem: await exportSpki(keys) }
}

/** A workload certificate with its fresh key and the chain that verifies it. */
export type WorkloadCertificate = KeyPairPem & {
  readonly certPem: string
  readonly caPem: string
  readonly notAfter: Date
}

/**
 * Issue a workload certificate (SPIFFE X509-SVID style) under the broker CA: a fresh key, exactly
 * one URI SAN (the SPIFFE ID), optional DNS SANs, client and server authentication, not a CA.
 */
export async function issueWorkloadCertificate(
  ca: CaMaterial,
  request: {
    readonly key: GeneratedKeyType
    readonly uri: string
    readonly dns: readonly string[]
    readonly days: number
    readonly commonName: string
  },
  now: Date,
  serial: Uint8Array,
): Promise<WorkloadCertificate> {
  const caCert = new x509.X509Certificate(ca.certPem)
  const caKey = await crypto.subtle.importKey('pkcs8', pemBody(ca.keyPem), EC, false, ['sign'])
  const keys = await generateKeys(request.key)
  const notAfter = addDays(now, request.days)
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: toHex(positive(serial)),
      subject: [{ CN: [request.commonName] }, { O: ['Subrosa workload'] }],
      issuer: caCert.subject,
      notBefore: now,
      notAfter,
      signingKey: caKey,
      publicKey: keys.publicKey,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          request.key.type === 'rsa'
            ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
            : x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([
          { type: 'url', value: request.uri },
          ...request.dns.map((d) => ({ type: 'dns' as const, value: d })),
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(caCert, false, crypto),
      ],
    },
    crypto,
  )
  return {
    certPem: cert.toString('pem'),
    caPem: ca.certPem,
    privatePem: await exportPkcs8(keys.privateKey),
    publicPem: await exportSpki(keys),
    notAfter,
  }
}

async function exportSpki(keys: CryptoKeyPair): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey)).toString('base64')
  return `-----BEGIN PUBLIC KEY-----\n${der.replace(/.{64}/g, '$&\n').trimEnd()}\n-----END PUBLIC KEY-----\n`
}

async function exportPkcs8(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key)).toString('base64')
  return `-----BEGIN PRIVATE KEY-----\n${der.replace(/.{64}/g, '$&\n').trimEnd()}\n-----END PRIVATE KEY-----\n`
}

function pemBody(pem: string): Uint8Array {
  return new Uint8Array(
    Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64'),
  )
}

function positive(serial: Uint8Array): Uint8Array {
  const out = serial.slice()
  out[0] = ((out[0] ?? 1) & 0x7f) | 0x01
  return out
}

function isIp(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(':')
}

function addDays(d: Date, days: number): Date {
  return new Date(d.getTime() + days * 86_400_000)
}
