// Revocation through an injectable trust anchor: a real TDX quote re-issued under a test PKI
// (root, PCK CA, PCK leaf carrying the real SGX extensions, TCB signing cert), with CRLs made in
// the test, verified through the same code path as production.
import assert from 'node:assert/strict'
import { sign } from 'node:crypto'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { parseCertificate, parsePemChain } from '../x509/certificate.ts'
import { extensionValue } from '../x509/extensions.ts'
import { testCertificate, testCrl, testKey } from '../x509/test-ca.ts'
import type { DcapCollateral } from './collateral.ts'
import { OID_SGX_EXTENSIONS } from './pck-extensions.ts'
import { parseQuote } from './quote.ts'
import { dcapVector, pemOf } from './test-fixtures.ts'
import { serializeQuote } from './test-quote.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const notBefore = new Date('2020-01-01T00:00:00Z')
const notAfter = new Date('2040-01-01T00:00:00Z')

function syntheticPki(sgxExtension: Uint8Array) {
  const root = testKey()
  const ca = testKey()
  const leaf = testKey()
  const signing = testKey()
  const base = { notBefore, notAfter }
  const rootDer = testCertificate({
    ...base,
    subject: 'Test SGX Root CA',
    issuer: 'Test SGX Root CA',
    serial: '01',
    publicKey: root.publicKey,
    signingKey: root.privateKey,
    ca: true,
    pathLen: 1,
    keyUsage: 0x06,
  })
  const caDer = testCertificate({
    ...base,
    subject: 'Test SGX PCK Platform CA',
    issuer: 'Test SGX Root CA',
    serial: '02',
    publicKey: ca.publicKey,
    signingKey: root.privateKey,
    ca: true,
    pathLen: 0,
    keyUsage: 0x06,
  })
  const leafDer = testCertificate({
    ...base,
    subject: 'Test SGX PCK Certificate',
    issuer: 'Test SGX PCK Platform CA',
    serial: '7e57',
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    ca: false,
    keyUsage: 0xc0,
    extraExtensions: [{ oid: OID_SGX_EXTENSIONS, critical: false, der: sgxExtension }],
  })
  const signingDer = testCertificate({
    ...base,
    subject: 'Intel SGX TCB Signing',
    issuer: 'Test SGX Root CA',
    serial: '03',
    publicKey: signing.publicKey,
    signingKey: root.privateKey,
    ca: false,
    keyUsage: 0xc0,
  })
  return { root, ca, leaf, signing, rootDer, caDer, leafDer, signingDer }
}

describe('DCAP revocation with a synthetic PKI', () => {
  it('refuses a PCK listed in the PCK CRL and accepts it otherwise', (t) => {
    const v = dcapVector(t, 'tdx')
    if (v === undefined) return
    const quote = parseQuote(v.quote)
    const realPck = parsePemChain(quote.pckChainPem)[0]
    const sgxExtension =
      realPck === undefined ? undefined : extensionValue(realPck, OID_SGX_EXTENSIONS)
    assert.ok(sgxExtension !== undefined)
    const pki = syntheticPki(sgxExtension)
    const p1363 = (data: Uint8Array, key: typeof pki.leaf) =>
      new Uint8Array(sign('sha256', data, { key: key.privateKey, dsaEncoding: 'ieee-p1363' }))
    const synthetic = serializeQuote(quote, {
      pckChainPem: `${pemOf(pki.leafDer)}${pemOf(pki.caDer)}${pemOf(pki.rootDer)}\0`,
      qeReportSignature: p1363(quote.qeReport.bytes, pki.leaf),
    })
    const signingChain = pemOf(pki.signingDer) + pemOf(pki.rootDer)
    const crl = (issuer: string, key: typeof pki.root, revoked: string[]) =>
      testCrl({
        issuer,
        signingKey: key.privateKey,
        thisUpdate: new Date(v.now.getTime() - 86_400_000),
        nextUpdate: new Date(v.now.getTime() + 86_400_000),
        revoked,
      })
    const collateral = (revoked: string[]): DcapCollateral => ({
      tcbInfo: v.collateral.tcbInfo,
      tcbInfoSignature: Buffer.from(p1363(utf8(v.collateral.tcbInfo), pki.signing)).toString('hex'),
      tcbInfoIssuerChain: signingChain,
      qeIdentity: v.collateral.qeIdentity,
      qeIdentitySignature: Buffer.from(p1363(utf8(v.collateral.qeIdentity), pki.signing)).toString(
        'hex',
      ),
      qeIdentityIssuerChain: signingChain,
      pckCrl: crl('Test SGX PCK Platform CA', pki.ca, revoked),
      pckCrlIssuerChain: pemOf(pki.caDer) + pemOf(pki.rootDer),
      rootCaCrl: crl('Test SGX Root CA', pki.root, []),
    })
    const roots = [parseCertificate(pki.rootDer)]
    const ok = verifyDcapQuote(synthetic, { collateral: collateral(['1234']), now: v.now, roots })
    assert.equal(ok.tcbStatus, 'UpToDate')
    assert.equal(ok.crls, 'checked')
    assert.throws(
      () => verifyDcapQuote(synthetic, { collateral: collateral(['7e57']), now: v.now, roots }),
      {
        code: 'ERR_ATTEST_REVOKED',
      },
    )
    // The PCK CA revoked by the root CRL.
    const caRevoked = { ...collateral([]), rootCaCrl: crl('Test SGX Root CA', pki.root, ['02']) }
    assert.throws(() => verifyDcapQuote(synthetic, { collateral: caRevoked, now: v.now, roots }), {
      code: 'ERR_ATTEST_REVOKED',
    })
    // A PCK CRL signed by another key under the same name.
    const forged = { ...collateral([]), pckCrl: crl('Test SGX PCK Platform CA', pki.leaf, []) }
    assert.throws(() => verifyDcapQuote(synthetic, { collateral: forged, now: v.now, roots }), {
      code: 'ERR_ATTEST_CRL',
    })
    // The synthetic quote under the production root: untrusted.
    assert.throws(() => verifyDcapQuote(synthetic, { collateral: collateral([]), now: v.now }), {
      code: 'ERR_ATTEST_UNTRUSTED_ROOT',
    })
    // The real quote: the QE report signature made by the synthetic PCK does not transfer.
    const mixed = serializeQuote(quote, {
      qeReportSignature: p1363(quote.qeReport.bytes, pki.leaf),
    })
    assert.throws(() => verifyDcapQuote(mixed, { collateral: v.collateral, now: v.now }), {
      code: 'ERR_ATTEST_SIGNATURE',
    })
  })
})
