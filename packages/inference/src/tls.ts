// @peculiar/x509 2.x resolves its services through tsyringe, which needs the Reflect metadata
// polyfill loaded first.
import 'reflect-metadata'
import { createHash, webcrypto } from 'node:crypto'
import { isIP } from 'node:net'
import * as x509 from '@peculiar/x509'
import {
  type Clock,
  type RandomBytes,
  systemClock,
  systemRandom,
  toBase64Url,
  toHex,
} from '@subrosa/core'

/** The service's own TLS certificate and key, made in this process. */
export type ServiceTlsCredentials = {
  readonly certPem: string
  readonly keyPem: string
  /** The certificate's DER bytes. */
  readonly der: Uint8Array
  /** base64url SHA-256 of the DER certificate: what a token binds (`subrosa.tls-cert-sha256`). */
  readonly sha256: string
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const

/**
 * A fresh self-signed EC P-256 server certificate for `hosts` (DNS names or IP addresses), valid
 * for `days`. Its private key never leaves the process. Callers do not trust it through a CA:
 * they check its SHA-256 against the one the service's attestation token binds.
 *
 * @example const tls = await createServiceCertificate(['127.0.0.1', 'localhost'])
 */
export async function createServiceCertificate(
  hosts: readonly string[],
  options: { readonly clock?: Clock; readonly random?: RandomBytes; readonly days?: number } = {},
): Promise<ServiceTlsCredentials> {
  const now = (options.clock ?? systemClock)()
  const serial = (options.random ?? systemRandom)(16)
  serial[0] = (serial[0] as number) & 0x7f
  const keys = (await webcrypto.subtle.generateKey(EC, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: toHex(serial),
      name: 'CN=subrosa-inference, O=Subrosa workload',
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + (options.days ?? 30) * 86_400_000),
      keys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension(
          hosts.map((h) => ({
            type: isIP(h) === 0 ? ('dns' as const) : ('ip' as const),
            value: h,
          })),
        ),
      ],
    },
    webcrypto,
  )
  const der = new Uint8Array(cert.rawData)
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey))
  return {
    certPem: cert.toString('pem'),
    keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8
      .toString('base64')
      .replace(/(.{64})/g, '$1\n')
      .trimEnd()}\n-----END PRIVATE KEY-----\n`,
    der,
    sha256: toBase64Url(new Uint8Array(createHash('sha256').update(der).digest())),
  }
}
