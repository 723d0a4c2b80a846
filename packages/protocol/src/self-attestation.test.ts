import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { toBase64Url, toHex } from '@subrosa/core'
import { parseSelfAttestationNonce, selfAttestationReportData } from './self-attestation.ts'

describe('broker self-attestation binding', () => {
  it('is SHA-512 over the domain, 0x00, SHA-256(certificate DER) and the nonce', () => {
    const der = new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01])
    const nonce = new Uint8Array(16).fill(0xab)
    const expected = createHash('sha512')
      .update('subrosa-broker-self-attestation-v1')
      .update(Buffer.of(0))
      .update(createHash('sha256').update(der).digest())
      .update(nonce)
      .digest('hex')
    assert.equal(toHex(selfAttestationReportData(der, nonce)), expected)
    assert.equal(selfAttestationReportData(der, nonce).length, 64)
  })

  it('takes nonces of 16 to 64 bytes in base64url and refuses anything else', () => {
    for (const n of [16, 32, 64]) {
      const bytes = new Uint8Array(n).fill(n)
      assert.deepEqual(parseSelfAttestationNonce(toBase64Url(bytes)), bytes)
    }
    for (const bad of [
      undefined,
      42,
      ['a'],
      '',
      toBase64Url(new Uint8Array(15)),
      toBase64Url(new Uint8Array(65)),
      `${toBase64Url(new Uint8Array(32))}=`,
      'a+b/'.repeat(8),
    ]) {
      assert.throws(() => parseSelfAttestationNonce(bad), { code: 'ERR_PROTOCOL_MALFORMED' })
    }
  })
})
