// Test support only (not exported): keys, certificates and structure-faithful token payloads.
// No public signed Azure Attestation token exists, so the tests sign MAA-shaped payloads (claim
// names from Microsoft's "claim sets", "attestation token examples" and TDX EAT profile pages)
// with keys made here.
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { exportJWK, type JWK, type JWTHeaderParameters, SignJWT } from 'jose'
import { makeCertificate, toPem, toX5c } from './test-certificates.ts'
import type { TrustedIssuer } from './verify-attestation-token.ts'

export const NOW = new Date('2026-11-22T12:00:00Z')
export const T = Math.floor(NOW.getTime() / 1000)
export const MAA_ISSUER = 'https://subrosa.weu.attest.azure.net'
export const EAR_ISSUER = 'https://broker.subrosa.test'
export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear'

const YEAR = 365 * 24 * 3600 * 1000
const validity = {
  notBefore: new Date(NOW.getTime() - YEAR),
  notAfter: new Date(NOW.getTime() + YEAR),
}

type Pair = { readonly privateKey: KeyObject; readonly publicKey: KeyObject }
const rsa = (): Pair => generateKeyPairSync('rsa', { modulusLength: 2048 })
const ec = (): Pair => generateKeyPairSync('ec', { namedCurve: 'P-256' })

/** Every key and certificate the token tests use. */
export type TestPki = Awaited<ReturnType<typeof makeTestPki>>

export async function makeTestPki() {
  const maa = rsa()
  const attacker = rsa()
  const ear = ec()
  const root = ec()
  const otherRoot = ec()
  const intermediate = ec()
  const leaf = rsa()
  const selfSigned = makeCertificate({ subject: MAA_ISSUER, ...maa, ...validity, ca: false })
  const rootCert = makeCertificate({ subject: 'Test Root', ...root, ...validity, ca: true })
  const otherRootCert = makeCertificate({
    subject: 'Test Root',
    ...otherRoot,
    ...validity,
    ca: true,
  })
  const intermediateCert = makeCertificate({
    subject: 'Test Intermediate',
    issuer: { name: 'Test Root', privateKey: root.privateKey },
    publicKey: intermediate.publicKey,
    ...validity,
    ca: true,
  })
  const leafCert = makeCertificate({
    subject: 'Test Token Signer',
    issuer: { name: 'Test Intermediate', privateKey: intermediate.privateKey },
    publicKey: leaf.publicKey,
    ...validity,
    ca: false,
  })
  const maaJwk: JWK = { ...(await exportJWK(maa.publicKey)), kid: 'maa-1' }
  const earJwk: JWK = { ...(await exportJWK(ear.publicKey)), kid: 'ear-1', alg: 'ES256' }
  return {
    maa,
    attacker,
    ear,
    root,
    intermediate,
    leaf,
    maaJwk,
    earJwk,
    /** JWKS the way Azure Attestation publishes it: kid, kty and a self-signed x5c only. */
    azureJwks: { keys: [{ kid: 'maa-x5c', kty: 'RSA', x5c: [toX5c(selfSigned)] }] },
    selfSignedPem: toPem(selfSigned),
    rootPem: toPem(rootCert),
    otherRootPem: toPem(otherRootCert),
    chain: [toX5c(leafCert), toX5c(intermediateCert)],
    intermediateX5c: toX5c(intermediateCert),
    leafCertDer: leafCert,
  }
}

/** The trusted issuers of most tests. */
export function issuers(pki: TestPki): TrustedIssuer[] {
  return [
    { issuer: MAA_ISSUER, kind: 'maa', jwks: { keys: [pki.maaJwk] } },
    { issuer: EAR_ISSUER, kind: 'ear', jwks: { keys: [pki.earJwk] } },
  ]
}

/** Sign a payload as a compact JWS with the given header. */
export function signToken(
  payload: Record<string, unknown>,
  key: KeyObject,
  header: Partial<JWTHeaderParameters> & { alg: string },
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key)
}

const times = (issuer: string) => ({ iss: issuer, iat: T - 60, nbf: T - 60, exp: T + 8 * 3600 })

export const SGX = {
  mrenclave: 'a1'.repeat(32),
  mrsigner: 'b2'.repeat(32),
  reportData: `${'c3'.repeat(32)}${'00'.repeat(32)}`,
}

/** An SGX token payload shaped like Azure Attestation's (current and deprecated names). */
export function maaSgxPayload(): Record<string, unknown> {
  return {
    ...times(MAA_ISSUER),
    jti: 'a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2',
    'aas-ehd': 'ZWhk',
    'is-debuggable': false,
    'maa-ehd': 'ZWhk',
    'product-id': 1,
    'sgx-mrenclave': SGX.mrenclave,
    'sgx-mrsigner': SGX.mrsigner,
    svn: 3,
    tee: 'sgx',
    'x-ms-attestation-type': 'sgx',
    'x-ms-policy-hash': 'wm9mHlvTU82e8UqoOy1Yj1FBRSNkfe99-69IYDq9eWs',
    'x-ms-sgx-collateral': { quotehash: 'ab'.repeat(32), tcbinfohash: 'cd'.repeat(32) },
    'x-ms-sgx-ehd': 'ZWhk',
    'x-ms-sgx-is-debuggable': false,
    'x-ms-sgx-mrenclave': SGX.mrenclave.toUpperCase(),
    'x-ms-sgx-mrsigner': SGX.mrsigner,
    'x-ms-sgx-product-id': 1,
    'x-ms-sgx-report-data': SGX.reportData,
    'x-ms-sgx-svn': 3,
    'x-ms-ver': '1.0',
  }
}

export const SNP = {
  measurement: '03'.repeat(48),
  hostData: '00'.repeat(32),
  idKeyDigest:
    '0356215882a825279a85b300b0b742931d113bf7e32dde2e50ffde7ec743ca491ecdd7f336dc28a6e0b2bb57af7a44a3',
  reportData: `${'d6'.repeat(32)}${'00'.repeat(32)}`,
  reportId: '31'.repeat(32),
}

/** The SEV-SNP claims MAA emits, under `x-ms-isolation-tee` (azurevm) or at the top level. */
export function snpTeeClaims(): Record<string, unknown> {
  return {
    'x-ms-attestation-type': 'sevsnpvm',
    'x-ms-compliance-status': 'azure-compliant-cvm',
    'x-ms-runtime': { keys: [{ kid: 'HCLAkPub', kty: 'RSA', e: 'AQAB', n: 'AQAB' }] },
    'x-ms-sevsnpvm-authorkeydigest': '00'.repeat(48),
    'x-ms-sevsnpvm-bootloader-svn': 4,
    'x-ms-sevsnpvm-familyId': `01${'00'.repeat(15)}`,
    'x-ms-sevsnpvm-guestsvn': 7,
    'x-ms-sevsnpvm-hostdata': SNP.hostData,
    'x-ms-sevsnpvm-idkeydigest': SNP.idKeyDigest,
    'x-ms-sevsnpvm-imageId': `02${'00'.repeat(15)}`,
    'x-ms-sevsnpvm-is-debuggable': false,
    'x-ms-sevsnpvm-launchmeasurement': SNP.measurement,
    'x-ms-sevsnpvm-microcode-svn': 211,
    'x-ms-sevsnpvm-migration-allowed': false,
    'x-ms-sevsnpvm-reportdata': SNP.reportData,
    'x-ms-sevsnpvm-reportid': SNP.reportId,
    'x-ms-sevsnpvm-smt-allowed': true,
    'x-ms-sevsnpvm-snpfw-svn': 21,
    'x-ms-sevsnpvm-tee-svn': 0,
    'x-ms-sevsnpvm-vmpl': 0,
  }
}

/** An Azure confidential VM (guest attestation) token payload. */
export function maaAzureVmPayload(): Record<string, unknown> {
  return {
    ...times(MAA_ISSUER),
    jti: 'cvm-1',
    secureboot: true,
    'x-ms-attestation-type': 'azurevm',
    'x-ms-azurevm-vmid': '1588CFD1-4BCA-40E9-8FA1-A29F3EDDFCD9',
    'x-ms-isolation-tee': snpTeeClaims(),
    'x-ms-policy-hash': 'wm9mHlvTU82e8UqoOy1Yj1FBRSNkfe99-69IYDq9eWs',
    'x-ms-ver': '1.0',
  }
}

/** A TdxVm token payload per Azure Attestation's TDX EAT profile. */
export function maaTdxPayload(): Record<string, unknown> {
  const h48 = (b: string) => b.repeat(48)
  return {
    ...times(MAA_ISSUER),
    jti: 'tdx-1',
    eat_profile: 'https://aka.ms/maa-eat-profile-tdxvm',
    dbgstat: 'disabled-since-boot',
    intuse: 'generic',
    attester_tcb_status: 'UpToDate',
    tdx_mrseam: h48('11'),
    tdx_mrsignerseam: h48('00'),
    tdx_mrtd: h48('22'),
    tdx_rtmr0: h48('30'),
    tdx_rtmr1: h48('31'),
    tdx_rtmr2: h48('32'),
    tdx_rtmr3: h48('00'),
    tdx_mrconfigid: h48('00'),
    tdx_mrowner: h48('00'),
    tdx_mrownerconfig: h48('00'),
    tdx_report_data: 'ee'.repeat(64),
    tdx_seam_attributes: '0000000000000000',
    tdx_seamsvn: 3,
    tdx_td_attributes: '0000001000000000',
    tdx_td_attributes_debug: false,
    tdx_tee_tcb_svn: '03000400000000000000000000000000',
    tdx_xfam: 'e742060000000000',
    'x-ms-attestation-type': 'tdxvm',
    'x-ms-policy-hash': 'wm9mHlvTU82e8UqoOy1Yj1FBRSNkfe99-69IYDq9eWs',
    'x-ms-ver': '1.0',
  }
}

/** A Subrosa EAR payload (as the broker issues it) over the given annotated claims. */
export function earPayload(annotated: Record<string, unknown>): Record<string, unknown> {
  const insecure = annotated.insecure === true
  return {
    ...times(EAR_ISSUER),
    jti: 'ear-1',
    eat_profile: EAR_PROFILE,
    eat_nonce: 'bm9uY2U',
    'ear.verifier-id': { developer: 'subrosa', build: 'test' },
    submods: {
      cpu0: {
        'ear.status': insecure ? 'warning' : 'affirming',
        'ear.trustworthiness-vector': { executables: 2, hardware: insecure ? 0 : 2 },
        'ear.appraisal-policy-id': 'ns/policy@hash',
        'ear.veraison.annotated-evidence': annotated,
        'ear.veraison.key-attestation': { akpub: 'MFkw' },
      },
    },
    'subrosa.workload': { namespace: 'ns', policy: 'p', workload: 'w' },
    'subrosa.tee': annotated.tee,
    'subrosa.insecure': insecure,
  }
}
