import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { exportJWK, exportSPKI, generateKeyPair, importJWK, type JWK, jwtVerify } from 'jose'
import { type EarInput, signEarToken, teePublicKeyOf, verifyEarToken } from './ear.ts'
import type { TeePublicKey } from './kbs.ts'

async function signingKey(kid: string): Promise<{ priv: JWK; pub: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  return {
    priv: { ...(await exportJWK(privateKey)), kid, alg: 'ES256' },
    pub: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' },
  }
}

describe('EAR tokens', async () => {
  const now = new Date('2026-11-22T12:00:00Z')
  const issuer = 'https://127.0.0.1:8443'
  const key = await signingKey('k1')
  const stranger = await signingKey('k1')
  const tee = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
  const teePublicKey = {
    ...(await exportJWK(tee.publicKey)),
    alg: 'ECDH-ES+A256KW',
  } as TeePublicKey
  const input: EarInput = {
    issuer,
    now,
    ttlSeconds: 600,
    jti: 'token-1',
    nonce: 'n0nce',
    build: 'subrosa 0.1.0',
    status: 'warning',
    trustVector: { executables: 2, hardware: 0 },
    annotatedEvidence: { tee: 'sim', measurement: 'ab'.repeat(48) },
    teePublicKey,
    workload: {
      namespace: 'acme',
      policy: 'p',
      workload: 'w',
      policyHash: 'sha384:00',
      policyVersion: 1,
      clause: 'workloads[0].accept[0]',
    },
    tee: 'sim',
    insecure: true,
  }
  const token = await signEarToken(input, key.priv)
  const jwks = { keys: [key.pub] }

  it('verifies and carries the EAR and Subrosa claims', async () => {
    const claims = await verifyEarToken(token, { jwks, issuer, now })
    assert.equal(claims.submods.cpu0['ear.status'], 'warning')
    assert.equal(claims['subrosa.workload'].workload, 'w')
    assert.equal(claims['subrosa.insecure'], true)
    assert.equal(claims.exp - claims.iat, 600)
    const { alg: _alg, ...bare } = teePublicKey
    assert.deepEqual(teePublicKeyOf(claims), bare)
  })

  it('is a standard ES256 JWT: jose verifies it, with the header and claims jose would write', async () => {
    const { payload, protectedHeader } = await jwtVerify(token, await importJWK(key.pub), {
      issuer,
      currentDate: now,
      requiredClaims: ['iat', 'exp', 'jti'],
    })
    assert.deepEqual(protectedHeader, { alg: 'ES256', kid: 'k1', typ: 'JWT' })
    assert.equal(payload.jti, 'token-1')
    assert.equal(payload.iat, now.getTime() / 1000)
  })

  it('refuses to attest a TEE key that is not a point on P-256', async () => {
    const offCurve = { ...teePublicKey, y: Buffer.alloc(32, 7).toString('base64url') }
    await assert.rejects(signEarToken({ ...input, teePublicKey: offCurve }, key.priv), {
      code: 'ERR_PROTOCOL_MALFORMED',
    })
  })

  it('reads akpub only as an EC P-256 SubjectPublicKeyInfo', async () => {
    const claims = await verifyEarToken(token, { jwks, issuer, now })
    const akpub = claims.submods.cpu0['ear.veraison.key-attestation'].akpub
    const der = Buffer.from(akpub, 'base64url')
    const p384 = await generateKeyPair('ES384', { extractable: true })
    const p384Spki = Buffer.from(
      (await exportSPKI(p384.publicKey)).replace(/-----[A-Z ]+-----|\s/g, ''),
      'base64',
    )
    const otherOid = Buffer.from(der)
    otherOid[20] = (otherOid[20] as number) ^ 1
    for (const bad of [der.subarray(0, der.length - 1), p384Spki, otherOid, Buffer.alloc(0)]) {
      const changed = structuredClone(claims)
      changed.submods.cpu0['ear.veraison.key-attestation'].akpub = bad.toString('base64url')
      assert.throws(() => teePublicKeyOf(changed), { code: 'ERR_TOKEN_CLAIMS' })
    }
  })

  it('carries subrosa.tls-cert-sha256 only when given', async () => {
    assert.equal(
      (await verifyEarToken(token, { jwks, issuer, now }))['subrosa.tls-cert-sha256'],
      undefined,
    )
    const certHash = 'C'.repeat(43)
    const bound = await signEarToken({ ...input, tlsCertSha256: certHash }, key.priv)
    const claims = await verifyEarToken(bound, { jwks, issuer, now })
    assert.equal(claims['subrosa.tls-cert-sha256'], certHash)
    const bad = await signEarToken({ ...input, tlsCertSha256: 'not a hash' }, key.priv)
    await assert.rejects(verifyEarToken(bad, { jwks, issuer, now }), { code: 'ERR_TOKEN_CLAIMS' })
  })

  it('rejects a token signed by another key', async () => {
    const forged = await signEarToken(input, stranger.priv)
    await assert.rejects(verifyEarToken(forged, { jwks, issuer, now }), {
      code: 'ERR_TOKEN_SIGNATURE',
    })
  })

  it('rejects a tampered token', async () => {
    const [h, p, s] = token.split('.') as [string, string, string]
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    payload['subrosa.workload'].workload = 'other'
    const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`
    await assert.rejects(verifyEarToken(tampered, { jwks, issuer, now }), {
      code: 'ERR_TOKEN_SIGNATURE',
    })
  })

  it('rejects expired tokens and the wrong issuer', async () => {
    await assert.rejects(
      verifyEarToken(token, { jwks, issuer, now: new Date(now.getTime() + 601_000) }),
      { code: 'ERR_TOKEN_EXPIRED' },
    )
    await assert.rejects(verifyEarToken(token, { jwks, issuer: 'https://evil', now }), {
      code: 'ERR_TOKEN_CLAIMS',
    })
  })

  it('rejects garbage with a typed error', async () => {
    for (const bad of [undefined, 1, 'not.a.jwt', 'e30.e30.']) {
      await assert.rejects(verifyEarToken(bad, { jwks, issuer, now }), {
        code: 'ERR_TOKEN_INVALID',
      })
    }
  })
})
