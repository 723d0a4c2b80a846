import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { detectEvidence } from './evidence.ts'

const VECTORS =
  process.env.SUBROSA_VECTORS ?? new URL('../../../../shared/vectors/', import.meta.url).pathname
const vector = (path: string) =>
  new Uint8Array(readFileSync(`${VECTORS.replace(/\/?$/, '/')}${path}`))

describe('detectEvidence', () => {
  it('recognizes real quotes and reports, raw or hex', (t) => {
    if (!existsSync(VECTORS)) return t.skip(`vectors absent (${VECTORS})`)
    assert.equal(detectEvidence(vector('dcap-qvl/sgx_quote')).tee, 'sgx')
    assert.equal(detectEvidence(vector('dcap-qvl/tdx_quote')).tee, 'tdx')
    assert.equal(detectEvidence(vector('dcap-qvl/tdx_quote_outdated')).tee, 'tdx')
    assert.equal(detectEvidence(vector('go-sev-guest/attestation.bin')).tee, 'snp')
    assert.equal(detectEvidence(vector('virtee-sev/report_milan.hex')).tee, 'snp')
    assert.throws(() => detectEvidence(vector('dcap-qvl/sgx_quote'), 'tdx'), {
      code: 'ERR_SDK_CONFIG',
    })
  })

  it('recognizes JWTs, sim evidence and wire JSON, and refuses anything else', () => {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url')
    assert.deepEqual(detectEvidence(utf8(`${b64({ alg: 'RS256' })}.${b64({ iss: 'x' })}.sig`)), {
      tee: 'token',
      evidence: { token: `${b64({ alg: 'RS256' })}.${b64({ iss: 'x' })}.sig` },
    })
    assert.equal(
      detectEvidence(utf8(`${b64({ alg: 'ES256', typ: 'subrosa-sim-evidence+jws' })}.${b64({})}.s`))
        .tee,
      'sim',
    )
    assert.equal(detectEvidence(utf8('{"report":"AAAA"}')).tee, 'snp')
    assert.equal(detectEvidence(utf8('{"tee":"tdx","evidence":{"quote":"AA=="}}')).tee, 'tdx')
    for (const bad of ['hello', '{"x":1}', '{', ''])
      assert.throws(() => detectEvidence(utf8(bad)), { code: 'ERR_SDK_CONFIG' }, bad)
    assert.throws(() => detectEvidence(new Uint8Array(2000).fill(7)), { code: 'ERR_SDK_CONFIG' })
  })
})
