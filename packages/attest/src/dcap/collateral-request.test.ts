import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { dcapCollateralRequest } from './collateral-request.ts'
import { dcapVector } from './test-fixtures.ts'

describe('dcapCollateralRequest', () => {
  it('reads TEE, FMSPC, PCE-ID and PCK CA from real quotes', (t) => {
    const sgx = dcapVector(t, 'sgx')
    const tdx = dcapVector(t, 'tdx')
    if (sgx === undefined || tdx === undefined) return
    assert.deepEqual(dcapCollateralRequest(sgx.quote), {
      tee: 'sgx',
      fmspc: '00a067110000',
      pceId: '0000',
      ca: 'processor',
    })
    const request = dcapCollateralRequest(tdx.quote)
    assert.equal(request.tee, 'tdx')
    assert.equal(request.fmspc, 'b0c06f000000')
    assert.equal(request.ca, 'platform')
  })

  it('refuses a truncated or altered quote with a typed code', (t) => {
    const sgx = dcapVector(t, 'sgx')
    if (sgx === undefined) return
    assert.throws(() => dcapCollateralRequest(sgx.quote.subarray(0, 100)), {
      code: 'ERR_ATTEST_MALFORMED',
    })
    // The PCK certificate's PEM, garbled: the quote no longer carries a readable PCK.
    const copy = sgx.quote.slice()
    const at = Buffer.from(copy).indexOf('-----BEGIN CERTIFICATE-----') + 40
    copy[at] = 0x21
    assert.throws(() => dcapCollateralRequest(copy), { code: 'ERR_ATTEST_MALFORMED' })
  })
})
