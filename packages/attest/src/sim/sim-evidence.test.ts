import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toHex, utf8 } from '@subrosa/core'
import {
  CompactSign,
  calculateJwkThumbprint,
  compactVerify,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  importJWK,
} from 'jose'
import { verifyEvidence } from '../verify-evidence.ts'
import { measureBundle } from './measure-bundle.ts'
import {
  createSimEvidence,
  generateSimPlatformKey,
  SIM_EVIDENCE_TYPE,
  verifySimEvidence,
} from './sim-evidence.ts'

const now = new Date('2026-11-22T12:00:00Z')
const statement = {
  measurement: measureBundle([{ path: 'job.yaml', bytes: utf8('query: select 1') }]),
  reportData: new Uint8Array(64).fill(7),
  debug: false,
  svn: 3,
}

describe('sim evidence', async () => {
  const platform = await generateSimPlatformKey()
  const other = await generateSimPlatformKey()
  const evidence = await createSimEvidence(statement, platform.privateJwk, now)

  it('verifies into insecure, normalized claims', async () => {
    const claims = await verifySimEvidence(evidence, {
      trustedKeys: [other.publicJwk, platform.publicJwk],
      now,
    })
    assert.deepEqual(claims, {
      tee: 'sim',
      insecure: true,
      debug: false,
      measurement: toHex(statement.measurement),
      svn: 3,
      reportData: '07'.repeat(64),
      platformKey: platform.thumbprint,
    })
  })

  it('is a standard ES256 compact JWS that jose verifies, with the thumbprint as kid', async () => {
    const { payload, protectedHeader } = await compactVerify(
      evidence,
      await importJWK(platform.publicJwk, 'ES256'),
    )
    assert.deepEqual(protectedHeader, {
      alg: 'ES256',
      typ: SIM_EVIDENCE_TYPE,
      kid: platform.thumbprint,
    })
    assert.equal(JSON.parse(Buffer.from(payload).toString()).tee, 'sim')
    await assert.rejects(createSimEvidence(statement, platform.publicJwk, now), {
      code: 'ERR_ATTEST_MALFORMED',
    })
  })

  it('refuses evidence from an untrusted platform key', async () => {
    await assert.rejects(verifySimEvidence(evidence, { trustedKeys: [other.publicJwk], now }), {
      code: 'ERR_ATTEST_UNTRUSTED_KEY',
    })
  })

  it('refuses a tampered payload or signature', async () => {
    const [h, p, s] = evidence.split('.') as [string, string, string]
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    payload.debug = true
    const forged = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
    await assert.rejects(verifySimEvidence(forged, { trustedKeys: [platform.publicJwk], now }), {
      code: 'ERR_ATTEST_SIGNATURE',
    })
    const sig = Buffer.from(s, 'base64url')
    sig[5] = (sig[5] as number) ^ 1
    await assert.rejects(
      verifySimEvidence(`${h}.${p}.${sig.toString('base64url')}`, {
        trustedKeys: [platform.publicJwk],
        now,
      }),
      {
        code: 'ERR_ATTEST_SIGNATURE',
      },
    )
    // Structure around a valid signature: a fourth part, a short signature, non-base64url text.
    const trustedKeys = [platform.publicJwk]
    for (const [bad, code] of [
      [`${evidence}.x`, 'ERR_ATTEST_MALFORMED'],
      [`${h}.${p}.${sig.subarray(0, 63).toString('base64url')}`, 'ERR_ATTEST_SIGNATURE'],
      [`${h}.${p}.${s}=`, 'ERR_ATTEST_SIGNATURE'],
      [`${h}.${p}+.${s}`, 'ERR_ATTEST_SIGNATURE'],
    ])
      await assert.rejects(verifySimEvidence(bad, { trustedKeys, now }), { code }, bad)
  })

  it('refuses a trusted key that is not EC P-256, even when its thumbprint is the kid', async () => {
    const { kid } = decodeProtectedHeader(evidence)
    const rsa = (await generateKeyPair('RS256', { extractable: true })).publicKey
    const rsaJwk = await exportJWK(rsa)
    const forged = await new CompactSign(utf8('{}'))
      .setProtectedHeader({
        alg: 'ES256',
        typ: SIM_EVIDENCE_TYPE,
        kid: await calculateJwkThumbprint(rsaJwk),
      })
      .sign((await generateKeyPair('ES256')).privateKey)
    assert.notEqual(kid, undefined)
    await assert.rejects(verifySimEvidence(forged, { trustedKeys: [rsaJwk], now }), {
      code: 'ERR_ATTEST_UNTRUSTED_KEY',
    })
  })

  it('refuses evidence outside the time window', async () => {
    const trustedKeys = [platform.publicJwk]
    await assert.rejects(
      verifySimEvidence(evidence, { trustedKeys, now: new Date(now.getTime() + 301_000) }),
      { code: 'ERR_ATTEST_EXPIRED' },
    )
    await assert.rejects(
      verifySimEvidence(evidence, { trustedKeys, now: new Date(now.getTime() - 61_000) }),
      { code: 'ERR_ATTEST_EXPIRED' },
    )
  })

  it('refuses malformed evidence with a typed error', async () => {
    for (const bad of [42, '', 'a.b.c', 'x'.repeat(9000), null]) {
      await assert.rejects(verifySimEvidence(bad, { trustedKeys: [platform.publicJwk], now }), {
        code: 'ERR_ATTEST_MALFORMED',
      })
    }
    await assert.rejects(
      createSimEvidence({ ...statement, reportData: new Uint8Array(32) }, platform.privateJwk, now),
      {
        code: 'ERR_ATTEST_MALFORMED',
      },
    )
  })

  it('dispatches by TEE kind and refuses kinds without a verifier', async () => {
    const claims = await verifyEvidence('sim', evidence, {
      now,
      sim: { trustedKeys: [platform.publicJwk] },
    })
    assert.equal(claims.claims.tee, 'sim')
    await assert.rejects(verifyEvidence('sim', evidence, { now }), {
      code: 'ERR_ATTEST_UNSUPPORTED_TEE',
    })
    await assert.rejects(verifyEvidence('tdx', 'x', { now }), {
      code: 'ERR_ATTEST_UNSUPPORTED_TEE',
    })
  })
})
