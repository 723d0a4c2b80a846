import assert from 'node:assert/strict'
import { createPrivateKey, type JsonWebKey, sign } from 'node:crypto'
import { describe, it } from 'node:test'
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose'
import { type EarInput, signEarToken, verifyEarToken } from './ear.ts'
import { verifyEarTokenSync } from './ear-node.ts'
import type { TeePublicKey } from './kbs.ts'

// Differential: the node:crypto verifier and the jose one give the same claims or the same code
// for each token, valid or crafted to fail one check.
describe('EAR token verification with node:crypto', async () => {
  const now = new Date('2026-11-22T12:00:00Z')
  const issuer = 'https://broker.test'
  const pair = await generateKeyPair('ES256', { extractable: true })
  const priv: JWK = { ...(await exportJWK(pair.privateKey)), kid: 'k1', alg: 'ES256' }
  const pub: JWK = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }
  const other = await generateKeyPair('ES256', { extractable: true })
  const otherPriv: JWK = { ...(await exportJWK(other.privateKey)), kid: 'k1', alg: 'ES256' }
  const tee = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
  const input: EarInput = {
    issuer,
    now,
    ttlSeconds: 600,
    jti: 't1',
    nonce: 'n',
    build: 'b',
    status: 'affirming',
    trustVector: { executables: 2 },
    annotatedEvidence: { tee: 'sim' },
    teePublicKey: (await exportJWK(tee.publicKey)) as TeePublicKey,
    workload: {
      namespace: 'a',
      policy: 'p',
      workload: 'w',
      policyHash: 'sha384:00',
      policyVersion: 1,
      clause: 'c',
    },
    tee: 'sim',
    insecure: false,
  }
  const token = await signEarToken(input, priv)
  const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString())
  const jwks = { keys: [pub] }
  const iat = now.getTime() / 1000

  /** A token over `payload` with `header`, signed by `key` (default: the trusted one). */
  const craft = (
    payload: Record<string, unknown>,
    header: Record<string, unknown> = { alg: 'ES256', kid: 'k1', typ: 'JWT' },
    key: JWK = priv,
  ) =>
    new SignJWT(payload)
      .setProtectedHeader(header as { alg: string })
      .sign(key as unknown as Parameters<SignJWT['sign']>[0])
  /** A token signed with node:crypto, for headers jose refuses to sign. */
  const rawSigned = (header: Record<string, unknown>, payload: Record<string, unknown>) => {
    const part = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url')
    const input = `${part(header)}.${part(payload)}`
    const key = createPrivateKey({ key: priv as JsonWebKey, format: 'jwk' })
    const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    return `${input}.${signature.toString('base64url')}`
  }
  const without = (name: string) => {
    const { [name]: _gone, ...rest } = claims
    return rest
  }
  const [h, p, s] = token.split('.') as [string, string, string]

  const cases: [string, unknown][] = [
    ['valid', token],
    ['valid without kid', await craft(claims, { alg: 'ES256' })],
    ['another key', await signEarToken(input, otherPriv)],
    ['unknown kid', await craft(claims, { alg: 'ES256', kid: 'k2' })],
    ['tampered payload', `${h}.${Buffer.from('{"iss":"x"}').toString('base64url')}.${s}`],
    ['tampered signature', `${h}.${p}.${s.slice(0, -2)}AA`],
    ['short signature', `${h}.${p}.${s.slice(0, 40)}`],
    ['crit header', rawSigned({ alg: 'ES256', kid: 'k1', crit: ['exp'], exp: 1 }, claims)],
    [
      'unencoded payload',
      rawSigned({ alg: 'ES256', kid: 'k1', crit: ['b64'], b64: false }, claims),
    ],
    ['expired', await craft({ ...claims, exp: iat })],
    ['not yet valid', await craft({ ...claims, nbf: iat + 60 })],
    ['nbf not a number', await craft({ ...claims, nbf: 'soon' })],
    ['wrong issuer', await craft({ ...claims, iss: 'https://evil' })],
    ['no issuer', await craft(without('iss'))],
    ['no jti', await craft(without('jti'))],
    ['no exp', await craft(without('exp'))],
    ['no iat', await craft(without('iat'))],
    ['iat not a number', await craft({ ...claims, iat: String(iat) })],
    ['exp not a number', await craft({ ...claims, exp: String(iat + 600) })],
    ['EAR claims missing', await craft(without('submods'))],
    ['bad tls hash', await craft({ ...claims, 'subrosa.tls-cert-sha256': 'x' })],
    ['payload not an object', `${h}.${Buffer.from('[1]').toString('base64url')}.${s}`],
    ['four parts', `${token}.x`],
    ['empty payload', `${h}..${s}`],
    ['empty signature', `${h}.${p}.`],
    ['garbage', 'not.a.jwt'],
    ['empty parts', 'e30.e30.'],
    ['not a string', 42],
    ['too long', `${token}${'A'.repeat(16384)}`],
  ]

  for (const [name, candidate] of cases) {
    it(`agrees with jose: ${name}`, async () => {
      const outcome = async (verifyToken: () => unknown) => {
        try {
          return { claims: await verifyToken() }
        } catch (error) {
          return { code: (error as { code?: string }).code }
        }
      }
      const options = { jwks, issuer, now }
      const byJose = await outcome(() => verifyEarToken(candidate, options))
      const byNode = await outcome(() => verifyEarTokenSync(candidate, options))
      assert.deepEqual(byNode, byJose)
      if (name.startsWith('valid')) assert.ok('claims' in byNode)
      else assert.match(String(byNode.code), /^ERR_TOKEN_/)
    })
  }
})
