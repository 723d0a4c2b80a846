import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { concatBytes } from '@subrosa/core'
import { parseCertificate } from '../x509/certificate.ts'
import { testPki } from '../x509/test-ca.ts'
import { parsePckExtensions } from './pck-extensions.ts'
import { parseQuote } from './quote.ts'
import { dcapVector } from './test-fixtures.ts'
import { serializeQuote } from './test-quote.ts'

function patched(bytes: Uint8Array, offset: number, values: number[]): Uint8Array {
  const copy = new Uint8Array(bytes)
  copy.set(values, offset)
  return copy
}

function malformed(field: string) {
  return { code: 'ERR_ATTEST_MALFORMED', details: { field } }
}

describe('parseQuote', () => {
  it('parses v3 SGX, v4 TD 1.0 and v5 TD 1.5 by declared lengths', (t) => {
    const sgx = dcapVector(t, 'sgx')
    const tdx = dcapVector(t, 'tdx')
    const v5 = dcapVector(t, 'outdated')
    if (sgx === undefined || tdx === undefined || v5 === undefined) return
    const a = parseQuote(sgx.quote)
    assert.deepEqual(
      [a.header.version, a.header.teeType, a.body.kind, a.signedBytes.length],
      [3, 'sgx', 'sgx', 432],
    )
    assert.equal(a.header.qeSvn, 10)
    assert.equal(a.header.pceSvn, 15)
    const b = parseQuote(tdx.quote)
    assert.deepEqual(
      [b.header.version, b.body.kind, b.signedBytes.length, b.length, b.trailingBytes],
      [4, 'td10', 632, 4936, 70],
    )
    const c = parseQuote(v5.quote)
    assert.deepEqual(
      [c.header.version, c.body.kind, c.signedBytes.length, c.trailingBytes],
      [5, 'td15', 702, 0],
    )
    assert.equal(c.qeAuthData.length, 32)
    assert.ok(c.pckChainPem.startsWith('-----BEGIN CERTIFICATE-----'))
    // The input is copied: mutating it afterwards does not change the parsed quote.
    const input = new Uint8Array(tdx.quote)
    const parsed = parseQuote(input)
    input[100] = (input[100] as number) ^ 1
    assert.equal(parsed.signedBytes[100], tdx.quote[100])
  })

  it('parses SGX bodies in v4 and v5 layouts', (t) => {
    const sgx = dcapVector(t, 'sgx')
    if (sgx === undefined) return
    const q = parseQuote(sgx.quote)
    const header4 = patched(q.signedBytes.subarray(0, 48), 0, [4, 0])
    const v4 = parseQuote(
      serializeQuote(
        { ...q, header: { ...q.header, version: 4 } },
        { signedBytes: concatBytes(header4, q.body.report.bytes) },
      ),
    )
    assert.deepEqual([v4.header.version, v4.body.kind], [4, 'sgx'])
    const header5 = patched(q.signedBytes.subarray(0, 48), 0, [5, 0])
    const descriptor = new Uint8Array([1, 0, 0x80, 1, 0, 0])
    const v5 = parseQuote(
      serializeQuote(
        { ...q, header: { ...q.header, version: 5 } },
        { signedBytes: concatBytes(header5, descriptor, q.body.report.bytes) },
      ),
    )
    assert.deepEqual([v5.header.version, v5.body.kind, v5.signedBytes.length], [5, 'sgx', 438])
    assert.throws(() => parseQuote(patched(serializeQuote(v5), 48, [2, 0])), malformed('bodyType'))
    assert.throws(() => parseQuote(patched(serializeQuote(v5), 48, [9, 0])), malformed('bodyType'))
    assert.throws(() => parseQuote(patched(serializeQuote(v5), 50, [0x81])), malformed('bodySize'))
  })

  it('refuses wrong header fields, truncation and trailing data, naming the field', (t) => {
    const tdx = dcapVector(t, 'tdx')
    const sgx = dcapVector(t, 'sgx')
    if (tdx === undefined || sgx === undefined) return
    const q = tdx.quote
    assert.throws(() => parseQuote(q.subarray(0, 47)), malformed('header'))
    assert.throws(() => parseQuote(patched(q, 0, [6, 0])), malformed('version'))
    assert.throws(() => parseQuote(patched(q, 2, [3, 0])), { code: 'ERR_ATTEST_UNSUPPORTED_TEE' })
    assert.throws(() => parseQuote(patched(q, 2, [1, 0])), malformed('attestationKeyType'))
    assert.throws(() => parseQuote(patched(q, 4, [0x80])), malformed('teeType'))
    assert.throws(() => parseQuote(patched(sgx.quote, 4, [0x81])), malformed('teeType'))
    assert.throws(() => parseQuote(q.subarray(0, 600)), malformed('body'))
    assert.throws(() => parseQuote(q.subarray(0, 634)), malformed('signatureDataSize'))
    assert.throws(() => parseQuote(q.subarray(0, 4935)), malformed('signatureData'))
    assert.throws(() => parseQuote(patched(q, 5000, [1])), malformed('trailingBytes'))
    const parsed = parseQuote(q)
    const certType = parsed.attestationKey.byteOffset + 64
    assert.throws(() => parseQuote(patched(q, certType, [5])), malformed('certificationDataType'))
    assert.throws(
      () => parseQuote(patched(q, certType + 2, [0])),
      malformed('certificationDataSize'),
    )
    const authSize = parsed.qeAuthData.byteOffset - 2
    assert.throws(() => parseQuote(patched(q, authSize, [33])), { code: 'ERR_ATTEST_MALFORMED' })
    const innerType = parsed.qeAuthData.byteOffset + 32
    assert.throws(() => parseQuote(patched(q, innerType, [4])), malformed('certificationDataType'))
    const badUtf8 = serializeQuote(parsed, { pckChainPem: 'x' })
    badUtf8[badUtf8.length - 1] = 0xff
    assert.throws(() => parseQuote(badUtf8), malformed('certificationData'))
  })
})

describe('parsePckExtensions', () => {
  it('reads the SGX extensions of each real PCK', (t) => {
    const sgx = dcapVector(t, 'sgx')
    if (sgx === undefined) return
    const { pckChainPem } = parseQuote(sgx.quote)
    const pem = pckChainPem.slice(0, pckChainPem.indexOf('-----END CERTIFICATE-----') + 25)
    const ext = parsePckExtensions(parseCertificate(pem))
    assert.deepEqual(ext.components, [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert.equal(ext.pceSvn, 13)
    assert.equal(ext.cpuSvn, '0b0b0202ff0100000000000000000000')
    assert.equal(ext.fmspc, '00a067110000')
    assert.equal(ext.pceId, '0000')
    assert.equal(ext.sgxType, 0)
    assert.equal(ext.platformInstanceId, undefined)
  })

  it('refuses a certificate without them', () => {
    assert.throws(
      () => parsePckExtensions(parseCertificate(testPki().leaf)),
      malformed('extension'),
    )
  })
})
