import assert from 'node:assert/strict'
import { createSecretKey, generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { AttestError } from '../errors.ts'
import {
  EAR_ISSUER,
  issuers,
  MAA_ISSUER,
  maaSgxPayload,
  makeTestPki,
  NOW,
  signToken,
  T,
} from './test-tokens.ts'
import { type TrustedIssuer, verifyAttestationToken } from './verify-attestation-token.ts'

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

describe('attestation token verification', async () => {
  const pki = await makeTestPki()
  const options = { issuers: issuers(pki), now: NOW }
  const header = { alg: 'RS256', kid: 'maa-1', typ: 'JWT' }
  const good = await signToken(maaSgxPayload(), pki.maa.privateKey, header)
  const withTimes = (times: Record<string, number>) =>
    signToken({ ...maaSgxPayload(), ...times }, pki.maa.privateKey, header)

  it('verifies against the issuer JWKS by kid', async () => {
    const verdict = await verifyAttestationToken(good, options)
    assert.equal(verdict.claims.tee, 'sgx')
  })

  it('verifies against a JWKS in Azure Attestation shape (kid, kty, x5c only)', async () => {
    const token = await signToken(maaSgxPayload(), pki.maa.privateKey, {
      alg: 'RS256',
      kid: 'maa-x5c',
      jku: `${MAA_ISSUER}/certs`,
      typ: 'JWT',
    })
    const azure: TrustedIssuer = { issuer: MAA_ISSUER, kind: 'maa', jwks: pki.azureJwks }
    assert.equal((await verifyAttestationToken(token, { issuers: [azure], now: NOW })).kind, 'maa')
    const pinned: TrustedIssuer = { ...azure, x5cRoots: [pki.selfSignedPem] }
    assert.equal((await verifyAttestationToken(token, { issuers: [pinned], now: NOW })).kind, 'maa')
    const otherRoot: TrustedIssuer = { ...azure, x5cRoots: [pki.otherRootPem] }
    await assert.rejects(verifyAttestationToken(token, { issuers: [otherRoot], now: NOW }), {
      code: 'ERR_ATTEST_CHAIN',
    })
  })

  it('verifies an x5c header chain against pinned roots', async () => {
    const token = await signToken(maaSgxPayload(), pki.leaf.privateKey, {
      alg: 'RS256',
      x5c: pki.chain,
    })
    const pinned: TrustedIssuer = { issuer: MAA_ISSUER, kind: 'maa', x5cRoots: [pki.rootPem] }
    const verdict = await verifyAttestationToken(token, { issuers: [pinned], now: NOW })
    assert.equal(verdict.claims.tee, 'sgx')
  })

  it('refuses an x5c chain to another root, a broken chain, or outside its validity', async () => {
    const sign = (x5c: string[]) =>
      signToken(maaSgxPayload(), pki.leaf.privateKey, { alg: 'RS256', x5c })
    const at = (roots: string[], now = NOW) => ({
      issuers: [{ issuer: MAA_ISSUER, kind: 'maa', x5cRoots: roots } as const],
      now,
    })
    const token = await sign(pki.chain)
    await assert.rejects(verifyAttestationToken(token, at([pki.otherRootPem])), {
      code: 'ERR_ATTEST_CHAIN',
    })
    await assert.rejects(
      verifyAttestationToken(await sign([pki.chain[0] as string]), at([pki.rootPem])),
      {
        code: 'ERR_ATTEST_CHAIN',
      },
    )
    const leafAsIssuer = [pki.chain[0] as string, pki.chain[0] as string]
    await assert.rejects(verifyAttestationToken(await sign(leafAsIssuer), at([pki.rootPem])), {
      code: 'ERR_ATTEST_CHAIN',
    })
    const late = new Date(NOW.getTime() + 2 * 365 * 24 * 3600 * 1000)
    const lateToken = await signToken(
      { ...maaSgxPayload(), exp: T + 3 * 365 * 24 * 3600 },
      pki.leaf.privateKey,
      {
        alg: 'RS256',
        x5c: pki.chain,
      },
    )
    await assert.rejects(verifyAttestationToken(lateToken, at([pki.rootPem], late)), {
      code: 'ERR_ATTEST_EXPIRED',
    })
    await assert.rejects(
      verifyAttestationToken(await sign(['bm90IGEgY2VydA==']), at([pki.rootPem])),
      {
        code: 'ERR_ATTEST_TOKEN',
      },
    )
  })

  it('refuses a token signed by another key, or tampered with', async () => {
    const forged = await signToken(maaSgxPayload(), pki.attacker.privateKey, header)
    await assert.rejects(verifyAttestationToken(forged, options), { code: 'ERR_ATTEST_SIGNATURE' })
    const [h, , s] = good.split('.') as [string, string, string]
    const tampered = `${h}.${b64url({ ...maaSgxPayload(), 'x-ms-sgx-is-debuggable': true })}.${s}`
    await assert.rejects(verifyAttestationToken(tampered, options), {
      code: 'ERR_ATTEST_SIGNATURE',
    })
  })

  it('refuses an unknown issuer or an unknown key', async () => {
    const other = await signToken(
      { ...maaSgxPayload(), iss: 'https://evil.attest.azure.net' },
      pki.maa.privateKey,
      header,
    )
    await assert.rejects(verifyAttestationToken(other, options), {
      code: 'ERR_ATTEST_UNTRUSTED_KEY',
    })
    const unknownKid = await signToken(maaSgxPayload(), pki.attacker.privateKey, {
      ...header,
      kid: 'attacker',
    })
    await assert.rejects(verifyAttestationToken(unknownKid, options), {
      code: 'ERR_ATTEST_UNTRUSTED_KEY',
    })
    const x5cWithoutRoots = await signToken(maaSgxPayload(), pki.leaf.privateKey, {
      alg: 'RS256',
      x5c: pki.chain,
    })
    // Without pinned roots the x5c is ignored; the issuer's only JWKS key did not sign it.
    await assert.rejects(verifyAttestationToken(x5cWithoutRoots, options), {
      code: 'ERR_ATTEST_SIGNATURE',
    })
    const noKeys: TrustedIssuer = { issuer: MAA_ISSUER, kind: 'maa' }
    await assert.rejects(verifyAttestationToken(good, { issuers: [noKeys], now: NOW }), {
      code: 'ERR_ATTEST_UNTRUSTED_KEY',
    })
  })

  it('refuses expired and not-yet-valid tokens, within the configured tolerance', async () => {
    const expired = await withTimes({ exp: T - 1 })
    await assert.rejects(verifyAttestationToken(expired, options), { code: 'ERR_ATTEST_EXPIRED' })
    const early = await withTimes({ nbf: T + 30 })
    await assert.rejects(verifyAttestationToken(early, options), { code: 'ERR_ATTEST_EXPIRED' })
    const future = await withTimes({ iat: T + 30, nbf: T - 60 })
    await assert.rejects(verifyAttestationToken(future, options), { code: 'ERR_ATTEST_EXPIRED' })
    const tolerant = { ...options, clockToleranceSeconds: 60 }
    for (const token of [expired, early, future]) {
      assert.equal((await verifyAttestationToken(token, tolerant)).claims.tee, 'sgx')
    }
  })

  it('checks the audience when one is configured', async () => {
    const token = await signToken(
      { ...maaSgxPayload(), aud: 'subrosa-broker' },
      pki.maa.privateKey,
      header,
    )
    assert.ok(await verifyAttestationToken(token, { ...options, audience: 'subrosa-broker' }))
    await assert.rejects(verifyAttestationToken(token, { ...options, audience: 'other' }), {
      code: 'ERR_ATTEST_TOKEN',
    })
    await assert.rejects(verifyAttestationToken(good, { ...options, audience: 'subrosa-broker' }), {
      code: 'ERR_ATTEST_TOKEN',
    })
  })

  it('refuses alg none, HMAC, algorithms the issuer does not accept, and garbage', async () => {
    const payload = b64url(maaSgxPayload())
    const none = `${b64url({ alg: 'none' })}.${payload}.`
    const hs256 = await signToken(maaSgxPayload(), createSecretKey(Buffer.alloc(32, 1)), {
      alg: 'HS256',
      kid: 'maa-1',
    })
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const es256ToMaa = await signToken(maaSgxPayload(), ec.privateKey, {
      alg: 'ES256',
      kid: 'maa-1',
    })
    const rs256ToEar = await signToken(
      { ...maaSgxPayload(), iss: EAR_ISSUER },
      pki.maa.privateKey,
      {
        alg: 'RS256',
        kid: 'ear-1',
      },
    )
    const noExp = await signToken(
      { ...maaSgxPayload(), exp: undefined },
      pki.maa.privateKey,
      header,
    )
    const garbage = [
      undefined,
      42,
      '',
      'a.b.c',
      'not a token',
      `${good}.`,
      good.split('.').slice(0, 2).join('.'),
      `${b64url({ alg: 'RS256' })}.${b64url('["array"]')}.AAAA`,
      'x'.repeat(70_000),
    ]
    for (const token of [none, hs256, es256ToMaa, rs256ToEar, noExp, ...garbage]) {
      await assert.rejects(verifyAttestationToken(token, options), { code: 'ERR_ATTEST_TOKEN' })
    }
  })

  it('never puts the token into an error message', async () => {
    const forged = await signToken(maaSgxPayload(), pki.attacker.privateKey, header)
    const [h, p] = forged.split('.') as [string, string]
    const broken = `${h}.${p.slice(0, -3)}!!!.x`
    for (const token of [forged, broken, `${h}.${b64url('{')}.x`]) {
      const error = await verifyAttestationToken(token, options).then(
        () => assert.fail('accepted'),
        (e: unknown) => e,
      )
      assert.ok(error instanceof AttestError)
      const text = JSON.stringify(error.toJSON())
      for (const part of [h, p, SGX_MRENCLAVE_UPPER]) assert.ok(!text.includes(part))
    }
  })
})

const SGX_MRENCLAVE_UPPER = 'A1'.repeat(32)
