// Test support: a CA for admin client certificates and certificates it issues (@peculiar/x509).
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const
const SIGN = { name: 'ECDSA', hash: 'SHA-256' } as const
const crypto = webcrypto

/** A test CA: its certificate (PEM) and its signing key. */
export type TestCa = {
  readonly certPem: string
  readonly cert: x509.X509Certificate
  key: webcrypto.CryptoKey
}

/** Create a self-signed CA named `CN=<name>`, valid for a day around `now`. */
export async function createTestCa(name: string, now = new Date()): Promise<TestCa> {
  const keys = await crypto.subtle.generateKey(EC, false, ['sign', 'verify'])
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '01',
      name: `CN=${name}`,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + 86_400_000),
      keys,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      ],
    },
    crypto,
  )
  return { certPem: cert.toString('pem'), cert, key: keys.privateKey }
}

/** Issue a leaf certificate (clientAuth unless `usage` says otherwise) with a fresh key. */
export async function issueTestCertificate(
  ca: TestCa,
  name: string,
  options: { usage?: 'clientAuth' | 'serverAuth'; now?: Date } = {},
): Promise<{ certPem: string; keyPem: string }> {
  const now = options.now ?? new Date()
  const keys = await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: '02',
      subject: `CN=${name}`,
      issuer: ca.cert.subject,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + 86_400_000),
      signingKey: ca.key,
      publicKey: keys.publicKey,
      signingAlgorithm: SIGN,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([
          options.usage === 'serverAuth'
            ? x509.ExtendedKeyUsage.serverAuth
            : x509.ExtendedKeyUsage.clientAuth,
        ]),
      ],
    },
    crypto,
  )
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
    'base64',
  )
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.replace(/.{64}/g, '$&\n').trimEnd()}\n-----END PRIVATE KEY-----\n`
  return { certPem: cert.toString('pem'), keyPem }
}
