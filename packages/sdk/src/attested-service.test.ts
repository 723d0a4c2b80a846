import assert from 'node:assert/strict'
import { before, describe, it } from 'node:test'
import { type EarInput, signEarToken, tlsCertificateSha256 } from '@subrosa/protocol'
import { CompactEncrypt, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose'
import { openAttestedRequest } from './attested-handler.ts'
import { type ServiceExpectation, verifyServiceToken } from './attested-service.ts'

const ISSUER = 'https://broker.test'
const NOW = new Date('2026-11-22T12:00:00Z')
const MRENCLAVE = 'e1'.repeat(32)
const MRSIGNER = 'f2'.repeat(32)
const CERT = new TextEncoder().encode('DER of the service certificate')

describe('verifyServiceToken (expectation checks on an SGX service token)', () => {
  let signing: JWK
  let jwks: { keys: JWK[] }
  let teePublicKey: EarInput['teePublicKey']

  before(async () => {
    const pair = await generateKeyPair('ES256', { extractable: true })
    signing = { ...(await exportJWK(pair.privateKey)), kid: 'k1' }
    jwks = { keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' }] }
    const tee = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
    const { x, y } = await exportJWK(tee.publicKey)
    teePublicKey = { kty: 'EC', crv: 'P-256', x: x as string, y: y as string }
  })

  function token(evidence: Record<string, unknown> = {}, extra: Partial<EarInput> = {}) {
    return signEarToken(
      {
        issuer: ISSUER,
        now: NOW,
        ttlSeconds: 600,
        jti: 'jti-0001',
        nonce: 'n',
        build: 'test',
        status: 'affirming',
        trustVector: {},
        annotatedEvidence: {
          tee: 'sgx',
          insecure: false,
          debug: false,
          mrenclave: MRENCLAVE,
          mrsigner: MRSIGNER,
          tcbStatus: 'UpToDate',
          ...evidence,
        },
        teePublicKey,
        workload: {
          namespace: 'acme',
          policy: 'health',
          workload: 'diagnostics',
          policyHash: 'sha384:aa',
          policyVersion: 3,
          clause: 'workloads[0].accept[0]',
        },
        tee: 'sgx',
        insecure: false,
        tlsCertSha256: tlsCertificateSha256(CERT),
        ...extra,
      },
      signing,
    )
  }

  const expectation = (over: Partial<ServiceExpectation> = {}): ServiceExpectation => ({
    issuer: ISSUER,
    jwks,
    namespace: 'acme',
    policy: 'health',
    workload: 'diagnostics',
    measurement: MRENCLAVE,
    ...over,
  })

  const check = async (t: Promise<string> | string, e = expectation()) =>
    verifyServiceToken(await t, e, { peerCertificate: CERT, now: NOW })

  it('accepts a matching token and returns the attested key', async () => {
    const service = await check(token())
    assert.equal(service.measurement, MRENCLAVE)
    assert.equal(service.insecure, false)
    assert.equal(service.key.x, teePublicKey.x)
    assert.equal(
      (await check(token(), expectation({ measurement: MRENCLAVE.toUpperCase() }))).tee,
      'sgx',
    )
    const bySigner = expectation({ signer: MRSIGNER })
    delete (bySigner as { measurement?: unknown }).measurement
    assert.equal((await check(token(), bySigner)).measurement, MRENCLAVE)
  })

  it('refuses an expectation that pins neither measurement nor signer', async () => {
    const loose = expectation()
    delete (loose as { measurement?: unknown }).measurement
    await assert.rejects(check(token(), loose), { code: 'ERR_ATTESTED_EXPECTATION' })
  })

  it('names the failed check', async () => {
    const cases: [Promise<string> | string, ServiceExpectation, string][] = [
      ['not a jwt', expectation(), 'ERR_ATTESTED_TOKEN'],
      [token(), expectation({ signer: '00'.repeat(32) }), 'ERR_ATTESTED_SIGNER'],
      [token(), expectation({ policyHash: 'sha384:bb' }), 'ERR_ATTESTED_POLICY'],
      [token({ tcbStatus: 'OutOfDate' }), expectation(), 'ERR_ATTESTED_TCB'],
      [token({ tcbStatus: undefined }), expectation(), 'ERR_ATTESTED_TCB'],
      [token({ debug: undefined }), expectation(), 'ERR_ATTESTED_DEBUG'],
      [token({}, { status: 'warning' }), expectation(), 'ERR_ATTESTED_STATUS'],
      [
        token({}, { tlsCertSha256: tlsCertificateSha256(new Uint8Array(1)) }),
        expectation(),
        'ERR_ATTESTED_TLS_BINDING',
      ],
      [
        token(
          {},
          {
            workload: {
              namespace: 'acme',
              policy: 'other',
              workload: 'diagnostics',
              policyHash: 'x',
              policyVersion: 1,
              clause: 'c',
            },
          },
        ),
        expectation(),
        'ERR_ATTESTED_WORKLOAD',
      ],
    ]
    for (const [t, e, code] of cases) await assert.rejects(check(t, e), { code }, code)
    // Statuses the caller allows are accepted.
    const tolerant = expectation({ tcbStatuses: ['UpToDate', 'SWHardeningNeeded'] })
    assert.equal((await check(token({ tcbStatus: 'SWHardeningNeeded' }), tolerant)).tee, 'sgx')
  })
})

describe('openAttestedRequest (the service side)', () => {
  let service: { privateKey: JWK; publicKey: JWK }
  before(async () => {
    const pair = await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
    service = {
      privateKey: await exportJWK(pair.privateKey),
      publicKey: await exportJWK(pair.publicKey),
    }
  })

  async function encrypt(value: unknown): Promise<string> {
    const { kty, crv, x, y } = service.publicKey
    return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(value)))
      .setProtectedHeader({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM' })
      .encrypt(await importJWK({ kty, crv, x, y } as JWK, 'ECDH-ES+A256KW'))
  }

  it('verifies the caller before it decrypts anything', async () => {
    let decryptedFor = 0
    const options = {
      teePrivateKey: service.privateKey,
      verifyCaller: async (t: string) => {
        if (t !== 'good') throw Object.assign(new Error('refused'), { code: 'ERR_TOKEN_REPLAY' })
        decryptedFor++
        return { sub: 'acme/health/api' }
      },
    }
    const reply = await generateKeyPair('ECDH-ES+A256KW')
    const { kty, crv, x, y } = await exportJWK(reply.publicKey)
    const body = await encrypt({ record: 1, replyKey: { kty, crv, x, y } })
    await assert.rejects(openAttestedRequest({ authorization: undefined, body }, options), {
      code: 'ERR_ATTESTED_UNAUTHENTICATED',
    })
    await assert.rejects(openAttestedRequest({ authorization: 'Bearer bad', body }, options), {
      code: 'ERR_TOKEN_REPLAY',
    })
    // A body that is not even a JWE is not looked at for a refused caller.
    await assert.rejects(
      openAttestedRequest({ authorization: 'Bearer bad', body: 'garbage' }, options),
      { code: 'ERR_TOKEN_REPLAY' },
    )
    assert.equal(decryptedFor, 0)
    const opened = await openAttestedRequest({ authorization: 'Bearer good', body }, options)
    assert.deepEqual(opened.payload, { record: 1 })
    assert.deepEqual(opened.caller, { sub: 'acme/health/api' })
    assert.equal((await opened.reply({ ok: true })).split('.').length, 5)
    for (const bad of ['garbage', await encrypt({ record: 1 }), await encrypt([1])])
      await assert.rejects(
        openAttestedRequest({ authorization: 'Bearer good', body: bad }, options),
        {
          code: 'ERR_ATTESTED_REQUEST',
        },
      )
  })
})
