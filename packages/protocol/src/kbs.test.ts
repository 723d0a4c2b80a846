import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { toHex } from '@subrosa/core'
import { reportDataFor } from './kbs.ts'

describe('KBS report_data binding', () => {
  it('is SHA-384 of the canonical runtime data, zero-padded to 64 bytes', () => {
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      alg: 'ECDH-ES+A256KW',
      x: 'A'.repeat(43),
      y: 'B'.repeat(43),
    } as const
    const rd = reportDataFor({ nonce: 'abc', 'tee-pubkey': jwk })
    const canonical = `{"nonce":"abc","tee-pubkey":{"alg":"ECDH-ES+A256KW","crv":"P-256","kty":"EC","x":"${'A'.repeat(43)}","y":"${'B'.repeat(43)}"}}`
    assert.equal(toHex(rd.subarray(0, 48)), createHash('sha384').update(canonical).digest('hex'))
    assert.deepEqual(rd.subarray(48), new Uint8Array(16))
    assert.notDeepEqual(reportDataFor({ nonce: 'abd', 'tee-pubkey': jwk }), rd)
  })
})
