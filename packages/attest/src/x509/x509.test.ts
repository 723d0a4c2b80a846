import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  basicConstraints,
  type Certificate,
  extensionValue,
  keyUsage,
  parseCertificate,
  parseCrl,
  parsePemChain,
  verifyChain,
  verifyCrl,
} from './index.ts'
import { testCertificate, testCrl, testKey, testPki } from './test-ca.ts'
import { haveVectors, vectorBytes, vectorText } from './test-vectors.ts'

const SGX = 'dcap-qvl/sgx_quote_collateral.json'
const ROOT = 'dcap-qvl/TrustedRootCA.der'
const IN_WINDOW = new Date('2025-07-01T00:00:00Z')

function intel() {
  const collateral = JSON.parse(vectorText(SGX)) as Record<string, string>
  return {
    root: parseCertificate(vectorBytes(ROOT)),
    pckCa: parsePemChain(collateral.pck_crl_issuer_chain as string),
    tcbSigning: parsePemChain(collateral.tcb_info_issuer_chain as string),
    rootCrl: parseCrl(new Uint8Array(Buffer.from(collateral.root_ca_crl as string, 'hex'))),
    pckCrl: parseCrl(new Uint8Array(Buffer.from(collateral.pck_crl as string, 'hex'))),
  }
}

describe('x509 with the Intel vectors', () => {
  it('parses the pinned Intel SGX Root CA', (t) => {
    if (!haveVectors(t, ROOT, 'go-tdx-guest/trusted_root.pem')) return
    const root = parseCertificate(vectorBytes(ROOT))
    assert.equal(root.sha256, '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3')
    assert.equal(
      root.spkiSha256,
      'a0af031289f5d5d4132f9186068a7fc13628633ba235777472e29b6b6c67a49e',
    )
    assert.equal(root.serial, '22650cd65a9d3489f383b49552bf501b392706ac')
    assert.equal(
      root.subject,
      'C=US, ST=CA, L=Santa Clara, O=Intel Corporation, CN=Intel SGX Root CA',
    )
    assert.equal(root.subject, root.issuer)
    assert.equal(root.notAfter.toISOString(), '2049-12-31T23:59:59.000Z')
    assert.deepEqual(basicConstraints(root), { ca: true, pathLen: 1 })
    assert.deepEqual([...(keyUsage(root) ?? [])].sort(), ['cRLSign', 'keyCertSign'])
    assert.equal(parseCertificate(vectorText('go-tdx-guest/trusted_root.pem')).sha256, root.sha256)
    assert.equal(extensionValue(root, '1.2.840.113741.1.13.1'), undefined)
  })

  it('verifies the TCB signing and PCK CA chains and both CRLs', (t) => {
    if (!haveVectors(t, ROOT, SGX)) return
    const { root, pckCa, tcbSigning, rootCrl, pckCrl } = intel()
    const crls = [rootCrl, pckCrl]
    const path = verifyChain(tcbSigning, { roots: [root], now: IN_WINDOW, crls })
    assert.deepEqual(
      path.map((c) => c.subject.split('CN=')[1]),
      ['Intel SGX TCB Signing', 'Intel SGX Root CA'],
    )
    assert.equal(path[1], root) // the pinned copy, not the one from the evidence
    verifyChain(pckCa, { roots: [root], now: IN_WINDOW, crls, leaf: 'ca' })
    verifyCrl(rootCrl, root, IN_WINDOW)
    verifyCrl(pckCrl, pckCa[0] as Certificate, IN_WINDOW)
    assert.equal(pckCrl.revokedSerials.size, 0)
  })

  it('refuses a CA as leaf unless asked, a wrong root, and times outside the windows', (t) => {
    if (!haveVectors(t, ROOT, SGX)) return
    const { root, pckCa, tcbSigning, rootCrl, pckCrl } = intel()
    assert.throws(() => verifyChain(pckCa, { roots: [root], now: IN_WINDOW }), {
      code: 'ERR_ATTEST_CHAIN',
    })
    const other = parseCertificate(testPki().root)
    assert.throws(() => verifyChain(tcbSigning, { roots: [other], now: IN_WINDOW }), {
      code: 'ERR_ATTEST_UNTRUSTED_ROOT',
    })
    assert.throws(() => verifyChain(tcbSigning.slice(0, 1), { roots: [other], now: IN_WINDOW }), {
      code: 'ERR_ATTEST_UNTRUSTED_ROOT',
    })
    assert.throws(() => verifyChain(tcbSigning, { roots: [root], now: new Date('2033-01-01') }), {
      code: 'ERR_ATTEST_EXPIRED',
    })
    assert.throws(
      () => verifyCrl(pckCrl, pckCa[0] as Certificate, new Date('2025-07-20T00:00:00Z')),
      {
        code: 'ERR_ATTEST_COLLATERAL_EXPIRED',
      },
    )
    assert.throws(() => verifyCrl(rootCrl, root, new Date('2025-03-20T11:21:56Z')), {
      code: 'ERR_ATTEST_COLLATERAL_EXPIRED',
    })
    assert.throws(() => verifyCrl(pckCrl, root, IN_WINDOW), { code: 'ERR_ATTEST_CRL' })
  })

  it('parses the go-tdx-guest CRLs (44 entries) and a trailing-NUL chain', (t) => {
    if (!haveVectors(t, 'go-tdx-guest/pckcrl', 'go-tdx-guest/rootcrl.der', SGX)) return
    const crl = parseCrl(vectorBytes('go-tdx-guest/pckcrl'))
    assert.equal(crl.revokedSerials.size, 44)
    assert.ok(crl.issuer.endsWith('CN=Intel SGX PCK Platform CA'))
    assert.equal(crl.thisUpdate.toISOString().slice(0, 10), '2023-06-08')
    const root = parseCertificate(vectorBytes(ROOT))
    verifyCrl(
      parseCrl(vectorBytes('go-tdx-guest/rootcrl.der')),
      root,
      new Date('2023-07-01T01:00:00Z'),
    )
    const chain = `${(JSON.parse(vectorText(SGX)) as Record<string, string>).pck_crl_issuer_chain}\0`
    assert.equal(parsePemChain(chain).length, 2)
  })

  it('verifies the AMD RSA-PSS chain (VCEK, ASK, ARK)', (t) => {
    if (!haveVectors(t, 'go-sev-guest/ask_ark_milan.pem', 'go-sev-guest/vcek.testcer')) return
    const [ask, ark] = parsePemChain(vectorText('go-sev-guest/ask_ark_milan.pem')) as [
      Certificate,
      Certificate,
    ]
    const vcek = parseCertificate(vectorBytes('go-sev-guest/vcek.testcer'))
    const path = verifyChain([vcek, ask], { roots: [ark], now: new Date('2022-09-24T01:00:00Z') })
    assert.equal(path.length, 3)
  })
})

describe('x509 with a synthetic PKI', () => {
  const pki = testPki()
  const root = parseCertificate(pki.root)
  const ca = parseCertificate(pki.ca)
  const leaf = parseCertificate(pki.leaf)
  const now = new Date('2030-01-01T00:00:00Z')
  const crl = (revoked: string[], key = pki.caKey.privateKey, issuer = 'Test Intermediate CA') =>
    parseCrl(
      testCrl({
        issuer,
        signingKey: key,
        thisUpdate: new Date('2029-12-01T00:00:00Z'),
        nextUpdate: new Date('2030-02-01T00:00:00Z'),
        revoked,
      }),
    )

  it('validates leaf, intermediate and pinned root, with or without the root in the chain', () => {
    assert.equal(verifyChain([leaf, ca, root], { roots: [root], now }).length, 3)
    assert.equal(verifyChain([leaf, ca], { roots: [root], now, crls: [crl(['ff'])] }).length, 3)
  })

  it('refuses a revoked leaf, a CRL from the wrong key, and a stale CRL', () => {
    assert.throws(() => verifyChain([leaf, ca], { roots: [root], now, crls: [crl(['a1b2c3'])] }), {
      code: 'ERR_ATTEST_REVOKED',
    })
    assert.throws(
      () =>
        verifyChain([leaf, ca], { roots: [root], now, crls: [crl([], pki.rootKey.privateKey)] }),
      {
        code: 'ERR_ATTEST_CRL',
      },
    )
    assert.throws(() => verifyCrl(crl([], pki.caKey.privateKey, 'Someone Else'), ca, now), {
      code: 'ERR_ATTEST_CRL',
    })
    assert.throws(
      () =>
        verifyChain([leaf, ca], { roots: [root], now: new Date('2031-01-01'), crls: [crl([])] }),
      { code: 'ERR_ATTEST_COLLATERAL_EXPIRED' },
    )
  })

  it('refuses an expired certificate, a self-signed root that is not pinned, broken links', () => {
    assert.throws(() => verifyChain([leaf, ca], { roots: [root], now: new Date('2041-01-01') }), {
      code: 'ERR_ATTEST_EXPIRED',
    })
    const other = testPki()
    assert.throws(
      () => verifyChain([leaf, ca, root], { roots: [parseCertificate(other.root)], now }),
      {
        code: 'ERR_ATTEST_UNTRUSTED_ROOT',
      },
    )
    assert.throws(() => verifyChain([leaf, parseCertificate(other.ca)], { roots: [root], now }), {
      code: 'ERR_ATTEST_UNTRUSTED_ROOT',
    })
    assert.throws(
      () => verifyChain([leaf, parseCertificate(other.ca), root], { roots: [root], now }),
      {
        code: 'ERR_ATTEST_CHAIN',
      },
    )
    assert.throws(() => verifyChain([], { roots: [root], now }), { code: 'ERR_ATTEST_CHAIN' })
  })

  it('enforces CA, pathLen and keyCertSign on issuers', () => {
    const base = {
      issuer: 'Test Intermediate CA',
      signingKey: pki.caKey.privateKey,
      notBefore: pki.notBefore,
      notAfter: pki.notAfter,
    }
    const k = testKey()
    // A second CA level under the intermediate (pathLen 0): too long.
    const sub = parseCertificate(
      testCertificate({
        ...base,
        subject: 'Sub CA',
        serial: '10',
        publicKey: k.publicKey,
        ca: true,
        keyUsage: 0x06,
      }),
    )
    const subLeaf = parseCertificate(
      testCertificate({
        ...base,
        issuer: 'Sub CA',
        signingKey: k.privateKey,
        subject: 'Sub Leaf',
        serial: '11',
        publicKey: testKey().publicKey,
      }),
    )
    assert.throws(() => verifyChain([subLeaf, sub, ca], { roots: [root], now }), {
      code: 'ERR_ATTEST_CHAIN',
    })
    // The leaf as issuer: not a CA.
    const underLeaf = parseCertificate(
      testCertificate({
        ...base,
        issuer: 'Test Leaf',
        signingKey: pki.leafKey.privateKey,
        subject: 'Under Leaf',
        serial: '12',
        publicKey: testKey().publicKey,
      }),
    )
    assert.throws(() => verifyChain([underLeaf, leaf, ca], { roots: [root], now }), {
      code: 'ERR_ATTEST_CHAIN',
    })
    // A CA leaf without leaf: 'ca'.
    assert.throws(() => verifyChain([ca], { roots: [root], now }), { code: 'ERR_ATTEST_CHAIN' })
    // An issuer without keyCertSign.
    const noSign = testCertificate({
      subject: 'Test Intermediate CA',
      issuer: 'Test Root CA',
      serial: '13',
      publicKey: pki.caKey.publicKey,
      signingKey: pki.rootKey.privateKey,
      notBefore: pki.notBefore,
      notAfter: pki.notAfter,
      ca: true,
      keyUsage: 0x80,
    })
    assert.throws(() => verifyChain([leaf, parseCertificate(noSign)], { roots: [root], now }), {
      code: 'ERR_ATTEST_CHAIN',
    })
    // An unknown critical extension.
    const critical = testCertificate({
      ...base,
      subject: 'Crit Leaf',
      serial: '14',
      publicKey: testKey().publicKey,
      extraExtensions: [{ oid: '1.2.3.4', critical: true, der: new Uint8Array([5, 0]) }],
    })
    assert.throws(() => verifyChain([parseCertificate(critical), ca], { roots: [root], now }), {
      code: 'ERR_ATTEST_CHAIN',
    })
  })

  it('refuses malformed certificates, PEM and CRLs with typed errors', () => {
    assert.throws(() => parseCertificate(new Uint8Array(0)), { code: 'ERR_ATTEST_MALFORMED' })
    assert.throws(() => parseCertificate(pki.leaf.subarray(0, 100)), {
      code: 'ERR_ATTEST_MALFORMED',
    })
    const trailing = new Uint8Array([...pki.leaf, 0])
    assert.throws(() => parseCertificate(trailing), { code: 'ERR_ATTEST_MALFORMED' })
    assert.throws(() => parsePemChain(''), { code: 'ERR_ATTEST_MALFORMED' })
    assert.throws(() => parsePemChain('junk'), { code: 'ERR_ATTEST_MALFORMED' })
    const pem = `-----BEGIN CERTIFICATE-----\n${Buffer.from(pki.leaf).toString('base64')}\n-----END CERTIFICATE-----\n`
    assert.equal(parsePemChain(`${pem}${pem}\0`).length, 2)
    assert.throws(() => parsePemChain(`${pem}garbage`), { code: 'ERR_ATTEST_MALFORMED' })
    assert.throws(() => parseCertificate(`${pem}${pem}`), { code: 'ERR_ATTEST_MALFORMED' })
    // Long-form length where the short form fits is not DER.
    const der = crl([]).der
    const nonDer = new Uint8Array([0x30, 0x82, 0x00, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00])
    assert.throws(() => parseCrl(nonDer), { code: 'ERR_ATTEST_CRL' })
    assert.throws(() => parseCrl(der.subarray(0, der.length - 1)), { code: 'ERR_ATTEST_CRL' })
    assert.throws(() => parseCrl(pki.leaf), { code: 'ERR_ATTEST_CRL' })
  })
})
