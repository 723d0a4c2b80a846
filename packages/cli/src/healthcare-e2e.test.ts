// The healthcare chain end to end over loopback HTTPS: clerk -> API (attested, TLS bound) ->
// sealed Redis (mutual TLS) -> token exchange -> diagnostics (two replicas of the inference
// service, model key from the broker) -> answer. Every refusal happens before the payload reaches
// the callee, which the test checks on the callee's side.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { systemRandom, toHex } from '@subrosa/core'
import {
  createServiceCertificate,
  predictLogistic,
  startModelService,
  WDBC_CSV_PATH,
} from '@subrosa/inference'
import { attestWorkload } from '@subrosa/launcher'
import { exchangeToken } from '@subrosa/sdk'
import { compactDecrypt, exportJWK, generateKeyPair, SignJWT } from 'jose'
import type { PatientRecord } from '../../../examples/healthcare/record.ts'
import { type HealthcareChain, startHealthcareChain, WORKLOADS } from './healthcare/chain.ts'
import { callClerkRoute, sealForClerk } from './healthcare/clerk-client.ts'
import { redisInstalled } from './healthcare/redis.ts'

const skip = !existsSync(WDBC_CSV_PATH)
  ? `${WDBC_CSV_PATH} is absent (apt-get install python3-sklearn)`
  : !redisInstalled()
    ? 'redis-server and redis-cli are not installed (apt-get install redis-server)'
    : false

describe('the healthcare chain over loopback HTTPS', { skip }, () => {
  let dir: string
  let chain: HealthcareChain
  const sent: PatientRecord[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-healthcare-'))
    chain = await startHealthcareChain({ dir })
  })
  after(async () => {
    await chain?.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** Expect `promise` to be refused by the API with `code` (through ERR_ATTESTED_REFUSED). */
  const refusedBy = (promise: Promise<unknown>, status: number, code: string) =>
    assert.rejects(promise, { code: 'ERR_ATTESTED_REFUSED', details: { status, code } })

  it('answers the diagnosis of a record, every hop verified, both replicas in turn', async () => {
    const records = chain.sampleRecords(2)
    const local = predictLogistic(
      chain.trained.model,
      records.map((r) => Float64Array.from(r.features)),
    )
    const urls = new Set<string>()
    for (const [i, record] of records.entries()) {
      const before = chain.inferRequests()
      const { answer, api } = await chain.submit(record)
      sent.push(record)
      // The clerk verified the API: its workload, measurement and the certificate it presented.
      assert.equal(api.measurement, chain.measurements.api)
      assert.equal(api.tlsCertSha256, chain.api.tlsCertSha256)
      assert.equal(api.insecure, true, 'the sim TEE is labelled insecure')
      // The API verified the diagnostics replica it called.
      assert.equal(answer.recordId, record.recordId)
      assert.equal(answer.diagnostics.workload, WORKLOADS.diagnostics)
      assert.equal(answer.diagnostics.measurement, chain.measurements.diagnostics)
      const replica = chain.diagnostics.find((d) => d.url === answer.diagnostics.url)
      assert.ok(replica, 'a replica of the chain answered')
      assert.equal(answer.diagnostics.tlsCertSha256, replica.tls.sha256)
      urls.add(answer.diagnostics.url)
      // onnxruntime's answer equals the project's own evaluation of the model.
      assert.ok(Math.abs(answer.pMalignant - (local[i] as number)) < 1e-5)
      assert.equal(answer.diagnosis, (local[i] as number) >= 0.5 ? 'malignant' : 'benign')
      assert.equal(chain.inferRequests(), before + 1)
      // The record is in Redis under its pseudonym, sealed.
      const stored = await chain.redis.cli(['GET', answer.cacheKey])
      assert.equal(
        stored.length,
        Buffer.byteLength(JSON.stringify(record)) + 29 + 1,
        'sealed + \\n',
      )
    }
    assert.equal(urls.size, 2, 'round-robin over both replicas')
  })

  it('refuses a diagnostics service with another measurement before sending it features', async () => {
    const api = await chain.startApi({
      diagnostics: {
        urls: chain.diagnostics.map((d) => d.url),
        audience: 'diagnostics',
        expectation: {
          namespace: 'health',
          policy: 'clinic',
          workload: 'diagnostics',
          measurement: 'cd'.repeat(48),
          allowSim: true,
        },
      },
    })
    const before = chain.inferRequests()
    const [record] = chain.sampleRecords(1) as [PatientRecord]
    await refusedBy(chain.submit(record, { api }), 502, 'ERR_ATTESTED_MEASUREMENT')
    assert.equal(chain.inferRequests(), before, 'no request reached a diagnostics replica')
  })

  it('refuses a diagnostics service in the sim TEE when sim is not allowed', async () => {
    const api = await chain.startApi({
      diagnostics: {
        urls: chain.diagnostics.map((d) => d.url),
        audience: 'diagnostics',
        expectation: {
          namespace: 'health',
          policy: 'clinic',
          workload: 'diagnostics',
          measurement: chain.measurements.diagnostics,
        },
      },
    })
    const before = chain.inferRequests()
    const [record] = chain.sampleRecords(1) as [PatientRecord]
    await refusedBy(chain.submit(record, { api }), 502, 'ERR_ATTESTED_SIM')
    assert.equal(chain.inferRequests(), before)
    // The clerk, too, refuses the (sim) API unless it allows sim, before sending the record.
    const opened = chain.api.opened()
    const { submitRecord } = await import('../../../examples/healthcare/clerk.ts')
    await assert.rejects(
      submitRecord(
        chain.client(),
        chain.clerkToken(),
        chain.api.url,
        { ...chain.apiExpectation, allowSim: false },
        record,
      ),
      { code: 'ERR_ATTESTED_SIM' },
    )
    assert.equal(chain.api.opened(), opened)
  })

  it('gets no model key for a diagnostics replica in a debug TEE', async () => {
    await assert.rejects(
      startModelService({
        modelFile: new Uint8Array(await readFile(chain.modelPath)),
        attest: async ({ keyPair, tlsCertificate }) => {
          const attested = await attestWorkload({
            client: chain.client(),
            workload: WORKLOADS.diagnostics,
            tee: chain.tee(chain.measurements.diagnostics, true),
            keyPair,
            tlsCertificate,
          })
          return { token: attested.token, kms: attested.kms }
        },
        verifyCaller: 'open',
      }),
      { code: 'ERR_POLICY_DENIED' },
    )
  })

  it('refuses a token for another audience, a replayed token and one signed by an unknown key, before opening the record', async () => {
    const [record] = chain.sampleRecords(1) as [PatientRecord]
    const opened = chain.api.opened()
    // The API's own token for the diagnostics service is not a token for the API.
    const other = await exchangeToken(chain.client(), chain.api.token(), 'diagnostics')
    await refusedBy(chain.submit(record, { callerToken: other.token }), 403, 'ERR_TOKEN_AUDIENCE')
    // A token for the API, used twice.
    const once = await exchangeToken(chain.client(), chain.clerkToken(), 'api')
    await chain.submit(record, { callerToken: once.token })
    assert.equal(chain.api.opened(), opened + 1)
    await refusedBy(chain.submit(record, { callerToken: once.token }), 401, 'ERR_TOKEN_REPLAY')
    // A well-formed token with the right claims, signed by a key the broker never had.
    const key = await generateKeyPair('ES256')
    const kid = (await exportJWK(key.publicKey)).x ?? 'k'
    const now = Math.floor(Date.now() / 1000)
    const forged = await new SignJWT({
      'subrosa.workload': { namespace: 'health', policy: 'clinic', workload: 'clerk' },
      'subrosa.tee': 'sim',
      'subrosa.insecure': true,
    })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
      .setIssuer(chain.broker.context.issuer)
      .setSubject(WORKLOADS.clerk)
      .setAudience('api')
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 60)
      .setJti(toHex(systemRandom(16)))
      .sign(key.privateKey)
    await refusedBy(chain.submit(record, { callerToken: forged }), 401, 'ERR_TOKEN_SIGNATURE')
    assert.equal(chain.api.opened(), opened + 1, 'no refused request was opened')
  })

  it('refuses an expired token and, unless allowed, a caller in the sim TEE', async () => {
    const [record] = chain.sampleRecords(1) as [PatientRecord]
    // An API whose clock is ten minutes ahead: a fresh five-minute token has expired there.
    const late = await chain.startApi({ clock: () => new Date(Date.now() + 600_000) })
    await refusedBy(chain.submit(record, { api: late }), 401, 'ERR_TOKEN_EXPIRED')
    const strict = await chain.startApi({ allowSimCallers: false })
    await refusedBy(chain.submit(record, { api: strict }), 401, 'ERR_TOKEN_CLAIMS')
    assert.equal(late.opened() + strict.opened(), 0, 'neither opened the record')
  })

  it('refuses a relay whose TLS certificate is not the one the API token binds', async () => {
    const tls = await createServiceCertificate(['127.0.0.1'])
    let posts = 0
    const relay = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
      if (req.method === 'POST') posts++
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ token: chain.api.token() }))
    })
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = relay.address() as AddressInfo
      const [record] = chain.sampleRecords(1) as [PatientRecord]
      const { submitRecord } = await import('../../../examples/healthcare/clerk.ts')
      await assert.rejects(
        submitRecord(
          chain.client(),
          chain.clerkToken(),
          `https://127.0.0.1:${port}`,
          chain.apiExpectation,
          record,
        ),
        { code: 'ERR_ATTESTED_TLS_BINDING' },
      )
      assert.equal(posts, 0, 'the relay received no payload')
    } finally {
      relay.closeAllConnections()
      await new Promise((resolve) => relay.close(resolve))
    }
  })

  it('takes records from a listed clerk key on the browser route, CORS for the portal only', async () => {
    const origin = 'http://127.0.0.1:8080'
    const clerk = await generateKeyPair('ES256', { extractable: true })
    const stranger = await generateKeyPair('ES256')
    const api = await chain.startApi({
      clerks: [await exportJWK(clerk.publicKey)],
      corsOrigins: [origin],
    })
    const preflight = await callClerkRoute(api, 'OPTIONS', {
      origin,
      'access-control-request-method': 'POST',
    })
    assert.equal(preflight.status, 204)
    assert.equal(preflight.headers['access-control-allow-origin'], origin)
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/)
    const evil = await callClerkRoute(api, 'OPTIONS', { origin: 'http://evil.test' })
    assert.equal(evil.status, 403)
    assert.equal(evil.headers['access-control-allow-origin'], undefined)
    const [record] = chain.sampleRecords(1)
    assert.ok(record)
    const before = api.opened()
    // An unlisted key: refused before the record is opened.
    const unlisted = await sealForClerk(
      api,
      { ...record, recordId: 'clerk-0' },
      stranger.privateKey,
      await exportJWK(clerk.publicKey),
    )
    const refused = await callClerkRoute(api, 'POST', unlisted.headers, unlisted.jwe)
    assert.equal(refused.status, 401)
    assert.equal(refused.json.code, 'ERR_TOKEN_SIGNATURE')
    assert.equal(api.opened(), before)
    const sealed = await sealForClerk(
      api,
      { ...record, recordId: 'clerk-1' },
      clerk.privateKey,
      await exportJWK(clerk.publicKey),
    )
    const ok = await callClerkRoute(api, 'POST', { ...sealed.headers, origin }, sealed.jwe)
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['access-control-allow-origin'], origin)
    const { plaintext } = await compactDecrypt(ok.text, sealed.replyKey)
    assert.equal(JSON.parse(new TextDecoder().decode(plaintext)).recordId, 'clerk-1')
    assert.equal(api.opened(), before + 1)
    // The same proof and body again: a replay.
    const replay = await callClerkRoute(api, 'POST', sealed.headers, sealed.jwe)
    assert.equal(replay.status, 401)
    assert.equal(replay.json.code, 'ERR_TOKEN_REPLAY')
    assert.equal(api.opened(), before + 1)
  })

  it('leaves no plaintext in Redis, the model file or the logs', async () => {
    assert.ok(sent.length > 0)
    const secrets = sent.flatMap((r) => [
      r.recordId,
      r.patient.name,
      JSON.stringify(r.features).slice(1, 60),
    ])
    const keys = (await chain.redis.cli(['--scan']))
      .toString()
      .split('\n')
      .filter((k) => k !== '')
    assert.ok(keys.length >= sent.length)
    for (const key of keys) {
      assert.match(key, /^subrosa:c:[0-9a-f]{64}$/, 'pseudonymous names only')
      const value = await chain.redis.cli(['GET', key])
      for (const s of [...secrets, 'patient', 'features', 'birthDate'])
        assert.equal(value.indexOf(s), -1, 'no record plaintext in Redis')
    }
    const model = await readFile(chain.modelPath)
    for (const s of ['Sigmoid', 'MatMul', 'p_malignant', 'features', 'Wisconsin'])
      assert.equal(model.indexOf(s), -1, `no "${s}" in the model file`)
    assert.notDeepEqual([...model.subarray(0, 4)], [...chain.trained.onnx.subarray(0, 4)])
    const logs = JSON.stringify(chain.logs)
    assert.ok(logs.includes('ERR_TOKEN_REPLAY'), 'refusals are logged, by code')
    for (const s of [...secrets, chain.clerkToken(), chain.api.token()])
      assert.ok(!logs.includes(s), 'no record value or token in the logs')
  })
})
