import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { toBase64Url, toHex } from '@subrosa/core'
import { reportDataFor, runtimeDataSchema, tlsCertificateSha256 } from './kbs.ts'

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

  it('hashes tls-cert-sha256 into the binding when present, and only then', () => {
    const jwk = { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) } as const
    const certHash = tlsCertificateSha256(new Uint8Array([1, 2, 3]))
    assert.equal(
      certHash,
      toBase64Url(
        createHash('sha256')
          .update(Buffer.from([1, 2, 3]))
          .digest(),
      ),
    )
    assert.equal(certHash.length, 43)
    const bound = reportDataFor({ nonce: 'n', 'tee-pubkey': jwk, 'tls-cert-sha256': certHash })
    const canonical = `{"nonce":"n","tee-pubkey":{"crv":"P-256","kty":"EC","x":"${'A'.repeat(43)}","y":"${'B'.repeat(43)}"},"tls-cert-sha256":"${certHash}"}`
    assert.equal(toHex(bound.subarray(0, 48)), createHash('sha384').update(canonical).digest('hex'))
    const plain = reportDataFor({ nonce: 'n', 'tee-pubkey': jwk })
    assert.notDeepEqual(plain, bound)
    // Another certificate is another binding.
    const other = tlsCertificateSha256(new Uint8Array([1, 2, 4]))
    assert.notDeepEqual(
      reportDataFor({ nonce: 'n', 'tee-pubkey': jwk, 'tls-cert-sha256': other }),
      bound,
    )
  })

  it('accepts only a 43-character base64url certificate hash, and PEM that is a certificate', () => {
    const jwk = { kty: 'EC', crv: 'P-256', x: 'A'.repeat(43), y: 'B'.repeat(43) }
    assert.ok(runtimeDataSchema.safeParse({ nonce: 'n', 'tee-pubkey': jwk }).success)
    for (const bad of ['A'.repeat(42), `${'A'.repeat(42)}=`, `${'A'.repeat(42)}+`])
      assert.equal(
        runtimeDataSchema.safeParse({ nonce: 'n', 'tee-pubkey': jwk, 'tls-cert-sha256': bad })
          .success,
        false,
      )
    assert.throws(
      () => tlsCertificateSha256('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'),
      { code: 'ERR_PROTOCOL_MALFORMED' },
    )
  })
})
