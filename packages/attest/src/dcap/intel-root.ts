// The pinned Intel SGX Root CA (production), the only default anchor of DCAP verification.
import { AttestError } from '../errors.ts'
import { type Certificate, parseCertificate } from '../x509/certificate.ts'

/** SHA-256 of the DER of the Intel SGX Root CA. */
export const INTEL_SGX_ROOT_CA_SHA256 =
  '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3'

/**
 * Intel SGX Root CA, `CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US`,
 * serial 22650cd6…06ac, valid 2018-05-21..2049-12-31 (published by Intel at
 * certificates.trustedservices.intel.com).
 */
export const INTEL_SGX_ROOT_CA_PEM = `-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
`

let cached: Certificate | undefined

/** The pinned root, parsed once on first use and checked against its SHA-256. */
export function intelSgxRootCa(): Certificate {
  if (cached !== undefined) return cached
  const root = parseCertificate(INTEL_SGX_ROOT_CA_PEM)
  if (root.sha256 !== INTEL_SGX_ROOT_CA_SHA256) {
    throw new AttestError('ERR_ATTEST_UNTRUSTED_ROOT', 'Embedded Intel SGX Root CA is corrupt')
  }
  cached = root
  return root
}
