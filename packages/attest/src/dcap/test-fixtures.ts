// Test-only: the DCAP vectors and their collateral, assembled as SOURCES.md describes.
// Files are read in place from the shared vectors folder; nothing is copied.
import type { TestContext } from 'node:test'
import { haveVectors, vectorBytes, vectorText } from '../x509/test-vectors.ts'
import {
  collateralFromDcapQvlJson,
  type DcapCollateral,
  extractSignedObject,
} from './collateral.ts'
import { INTEL_SGX_ROOT_CA_PEM } from './intel-root.ts'

export type DcapVector = {
  readonly name: string
  readonly quote: Uint8Array
  readonly collateral: DcapCollateral
  readonly now: Date
  readonly crls?: 'not-provided'
}

export function pemOf(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')
  return `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`
}

function firstPem(chain: string): string {
  const end = '-----END CERTIFICATE-----'
  return `${chain.slice(0, chain.indexOf(end) + end.length)}\n`
}

const FILES = {
  sgx: ['dcap-qvl/sgx_quote', 'dcap-qvl/sgx_quote_collateral.json'],
  tdx: ['dcap-qvl/tdx_quote', 'dcap-qvl/tdx_quote_collateral.json'],
  outdated: ['dcap-qvl/tdx_quote_outdated', 'dcap-qvl/tdx_quote_outdated_collateral.json'],
  goV4: [
    'go-tdx-guest/tdx_prod_quote_SPR_E4.dat',
    'go-tdx-guest/sample_tcbInfo_response',
    'go-tdx-guest/sample_qeIdentity_response',
    'go-tdx-guest/pckcrl',
    'go-tdx-guest/rootcrl.der',
    'automata-dcap-attestation/signing.der',
    'dcap-qvl/tdx_quote_collateral.json',
  ],
  goV5: ['go-tdx-guest/quote_v5_sample.dat', 'dcap-qvl/tdx_quote_outdated_collateral.json'],
  trustee6: [
    'trustee/tdx_quote_6.dat',
    'trustee/tcbInfo.json',
    'trustee/enclaveIdentity.json',
    'dcap-qvl/tdx_quote_outdated_collateral.json',
  ],
} as const

export type VectorName = keyof typeof FILES

/** The go-tdx-guest v4 file appends a non-zero text after the quote; the quote is 4935 bytes. */
export const GO_V4_QUOTE_LENGTH = 4935

function build(name: VectorName): DcapVector {
  const qvl = (file: string) => collateralFromDcapQvlJson(vectorText(`dcap-qvl/${file}`))
  switch (name) {
    case 'sgx':
      return {
        name,
        quote: vectorBytes('dcap-qvl/sgx_quote'),
        collateral: qvl('sgx_quote_collateral.json'),
        now: new Date('2025-07-01T00:00:00Z'),
      }
    case 'tdx':
      return {
        name,
        quote: vectorBytes('dcap-qvl/tdx_quote'),
        collateral: qvl('tdx_quote_collateral.json'),
        now: new Date('2025-07-01T00:00:00Z'),
      }
    case 'outdated':
      return {
        name,
        quote: vectorBytes('dcap-qvl/tdx_quote_outdated'),
        collateral: qvl('tdx_quote_outdated_collateral.json'),
        now: new Date('2026-03-01T00:00:00Z'),
      }
    case 'goV5':
      return {
        name,
        quote: vectorBytes('go-tdx-guest/quote_v5_sample.dat'),
        collateral: qvl('tdx_quote_outdated_collateral.json'),
        now: new Date('2026-03-01T00:00:00Z'),
      }
    case 'goV4': {
      const tcb = extractSignedObject(vectorText('go-tdx-guest/sample_tcbInfo_response'), 'tcbInfo')
      const qe = extractSignedObject(
        vectorText('go-tdx-guest/sample_qeIdentity_response'),
        'enclaveIdentity',
      )
      const signing =
        pemOf(vectorBytes('automata-dcap-attestation/signing.der')) + INTEL_SGX_ROOT_CA_PEM
      const platformCa = firstPem(qvl('tdx_quote_collateral.json').pckCrlIssuerChain as string)
      return {
        name,
        quote: vectorBytes('go-tdx-guest/tdx_prod_quote_SPR_E4.dat').subarray(
          0,
          GO_V4_QUOTE_LENGTH,
        ),
        collateral: {
          tcbInfo: tcb.raw,
          tcbInfoSignature: tcb.signature,
          tcbInfoIssuerChain: signing,
          qeIdentity: qe.raw,
          qeIdentitySignature: qe.signature,
          qeIdentityIssuerChain: signing,
          pckCrl: vectorBytes('go-tdx-guest/pckcrl'),
          pckCrlIssuerChain: platformCa + INTEL_SGX_ROOT_CA_PEM,
          rootCaCrl: vectorBytes('go-tdx-guest/rootcrl.der'),
        },
        now: new Date('2023-07-01T01:00:00Z'),
      }
    }
    case 'trustee6': {
      const tcb = extractSignedObject(vectorText('trustee/tcbInfo.json'), 'tcbInfo')
      const qe = extractSignedObject(vectorText('trustee/enclaveIdentity.json'), 'enclaveIdentity')
      const signing = qvl('tdx_quote_outdated_collateral.json').tcbInfoIssuerChain
      return {
        name,
        quote: vectorBytes('trustee/tdx_quote_6.dat'),
        collateral: {
          tcbInfo: tcb.raw,
          tcbInfoSignature: tcb.signature,
          tcbInfoIssuerChain: signing,
          qeIdentity: qe.raw,
          qeIdentitySignature: qe.signature,
          qeIdentityIssuerChain: signing,
        },
        now: new Date('2025-11-01T00:00:00Z'),
        crls: 'not-provided',
      }
    }
  }
}

/** The vector, or undefined after skipping the test with a message naming the missing files. */
export function dcapVector(t: TestContext, name: VectorName): DcapVector | undefined {
  if (!haveVectors(t, ...FILES[name])) return undefined
  return build(name)
}
