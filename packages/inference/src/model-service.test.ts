// Two replicas of the inference service, each attested by a real broker (sim TEE, loopback TLS),
// share one model key that only the broker releases.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemClock, systemRandom } from '@subrosa/core'
import { attestWorkload, simTee } from '@subrosa/launcher'
import { generateOwnerKey, teePublicKeyOf, verifyEarToken } from '@subrosa/protocol'
import {
  applyPolicy,
  attestedFetch,
  BrokerClient,
  createKey,
  createMemoryReplayCache,
  createOwnerKms,
  exchangeToken,
} from '@subrosa/sdk'
import { earCallerVerifier, exchangedCallerVerifier } from './callers.ts'
import { MODEL_INPUT, MODEL_OUTPUT } from './model/export-onnx.ts'
import { predictLogistic } from './model/logistic.ts'
import { type TrainedModel, trainWdbcModel } from './model/train.ts'
import { loadWdbc, WDBC_CSV_PATH } from './model/wdbc.ts'
import { encryptModel } from './model-file.ts'
import {
  type AttestRequest,
  type ModelService,
  type ModelServiceLogEvent,
  startModelService,
} from './model-service.ts'
import { httpsCall, openAnswer, sealRequest } from './testing/client.ts'

const skip = existsSync(WDBC_CSV_PATH)
  ? false
  : `${WDBC_CSV_PATH} is absent (apt-get install python3-sklearn)`
const MEASUREMENT = 'ab'.repeat(48)
const SERVICE = 'dx/diagnostics/inference'
const CALLER = 'dx/diagnostics/portal'

describe('two attested inference replicas sharing a model key through the broker', { skip }, () => {
  let dir: string
  let broker: RunningBroker
  let sim: SimPlatformKey
  let trained: TrainedModel
  let modelPath: string
  const clients: BrokerClient[] = []
  const replicas: ModelService[] = []
  const logs: ModelServiceLogEvent[] = []

  const client = () => {
    const c = new BrokerClient({ url: broker.url, caPem: broker.caPem })
    clients.push(c)
    return c
  }
  const tee = () =>
    simTee({
      platformKey: sim.privateJwk,
      measurement: Buffer.from(MEASUREMENT, 'hex'),
      clock: systemClock,
    })

  /** The launcher's attestation of a service replica: keys only from the broker. */
  const attestReplica = async ({ keyPair, tlsCertificate }: AttestRequest) => {
    const attested = await attestWorkload({
      client: client(),
      workload: SERVICE,
      tee: tee(),
      keyPair,
      tlsCertificate,
    })
    return { token: attested.token, kms: attested.kms }
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-inference-'))
    const owner = await generateOwnerKey()
    sim = await generateSimPlatformKey()
    broker = await startBroker({
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
      port: 0,
    })
    const admin = new BrokerClient({ url: broker.url, caPem: broker.caPem }, { owner })
    clients.push(admin)
    await createKey(admin, 'dx', 'model')
    await applyPolicy(
      admin,
      `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: dx, name: diagnostics, predecessor: null }
owners: { threshold: 1, keys: ["${owner.id}"] }
workloads:
  - name: inference
    accept: [{ tee: sim, measurement: "${MEASUREMENT}" }]
    keys: ["dx/model:unwrap"]
  - name: portal
    accept: [{ tee: sim, measurement: "${MEASUREMENT}" }]
    calls: [diagnostics, billing]
`,
    )
    trained = trainWdbcModel(await loadWdbc())
    modelPath = join(dir, 'model.onnx.srsa')
    await writeFile(
      modelPath,
      await encryptModel(trained.onnx, {
        kms: createOwnerKms(admin),
        masterKeyId: 'subrosa:dx/model',
      }),
    )
    const verifyCaller = earCallerVerifier({
      jwks: broker.jwks,
      issuer: broker.context.issuer,
      workloads: [CALLER],
    })
    for (let i = 0; i < 2; i++)
      replicas.push(
        await startModelService({
          modelFile: new Uint8Array(await readFile(modelPath)),
          attest: attestReplica,
          verifyCaller,
          log: (e) => logs.push(e),
        }),
      )
  })
  after(async () => {
    for (const r of replicas) await r.close()
    for (const c of clients) c.close()
    await broker?.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function attestedKeyOf(replica: ModelService) {
    const res = await httpsCall(`${replica.url}/v1/attestation`, {
      method: 'GET',
      certPem: replica.tls.certPem,
    })
    assert.equal(res.status, 200)
    const { token } = JSON.parse(res.body) as { token: string }
    const claims = await verifyEarToken(token, {
      jwks: broker.jwks,
      issuer: broker.context.issuer,
      now: new Date(),
    })
    const w = claims['subrosa.workload']
    assert.equal(`${w.namespace}/${w.policy}/${w.workload}`, SERVICE)
    const { kty, crv, x, y } = teePublicKeyOf(claims)
    return { jwk: { kty, crv, x, y }, jti: claims.jti }
  }

  it('stores the model as ciphertext only', async () => {
    const file = await readFile(modelPath)
    for (const s of ['Sigmoid', 'MatMul', MODEL_INPUT, MODEL_OUTPUT, 'wdbc', 'Wisconsin'])
      assert.equal(file.indexOf(s), -1, `no "${s}" in the file on disk`)
    assert.notDeepEqual(
      [...file.subarray(0, 3)],
      [...trained.onnx.subarray(0, 3)],
      'no ONNX prefix',
    )
    for (const r of replicas) assert.equal(r.modelSha256, trained.sha256)
  })

  it('both replicas answer the same inference, equal to the local evaluation', async () => {
    const caller = await attestWorkload({ client: client(), workload: CALLER, tee: tee() })
    const rows = trained.test.x.slice(0, 5)
    const input = { [MODEL_INPUT]: { dims: [5, 30], data: rows.flatMap((r) => Array.from(r)) } }
    const local = predictLogistic(trained.model, rows)
    const answers: (readonly number[])[] = []
    const jtis = new Set<string>()
    for (const replica of replicas) {
      const { jwk, jti } = await attestedKeyOf(replica)
      jtis.add(jti)
      const { jwe, replyPrivateKey } = await sealRequest(jwk, input)
      const res = await httpsCall(`${replica.url}/v1/infer`, {
        method: 'POST',
        certPem: replica.tls.certPem,
        body: jwe,
        authorization: `Bearer ${caller.token}`,
      })
      assert.equal(res.status, 200, res.body)
      const out = (await openAnswer(res.body, replyPrivateKey)).outputs[MODEL_OUTPUT]
      assert.deepEqual(out?.dims, [5, 1])
      out?.data.forEach((p, i) => {
        assert.ok(Math.abs(p - (local[i] as number)) < 1e-5)
      })
      answers.push(out?.data ?? [])
    }
    assert.deepEqual(answers[0], answers[1])
    assert.equal(jtis.size, 2, 'two attestations')
  })

  it("refuses a request to the other replica's key, a tampered JWE and an unverified caller", async () => {
    const caller = await attestWorkload({ client: client(), workload: CALLER, tee: tee() })
    const [a, b] = replicas as [ModelService, ModelService]
    const input = { [MODEL_INPUT]: { dims: [1, 30], data: Array.from(trained.test.x[0] ?? []) } }
    const call = (replica: ModelService, body: string, authorization = `Bearer ${caller.token}`) =>
      httpsCall(`${replica.url}/v1/infer`, {
        method: 'POST',
        certPem: replica.tls.certPem,
        body,
        authorization,
      })
    const toA = await sealRequest((await attestedKeyOf(a)).jwk, input)
    const wrong = await call(b, toA.jwe)
    assert.equal(wrong.status, 400)
    assert.equal((JSON.parse(wrong.body) as { code: string }).code, 'ERR_INFER_DECRYPT')
    const parts = toA.jwe.split('.')
    const tag = parts[4] as string
    parts[4] = `${tag[0] === 'A' ? 'B' : 'A'}${tag.slice(1)}`
    const tampered = await call(a, parts.join('.'))
    assert.equal((JSON.parse(tampered.body) as { code: string }).code, 'ERR_INFER_DECRYPT')
    // The service's own token is not a caller this service accepts (workload not listed).
    const notCaller = await call(a, toA.jwe, `Bearer ${a.token()}`)
    assert.equal(notCaller.status, 401)
    assert.equal((JSON.parse(notCaller.body) as { code: string }).code, 'ERR_INFER_UNAUTHORIZED')
    // Over the 1 MiB default: cut off while reading, whatever the body holds.
    const big = await call(a, 'x'.repeat((1 << 20) + 1))
    assert.equal(big.status, 413)
    assert.equal(big.contentType, 'application/problem+json')
    assert.equal((JSON.parse(big.body) as { code: string }).code, 'ERR_INFER_TOO_LARGE')
    const ok = await call(a, toA.jwe)
    assert.equal(ok.status, 200)
    const text = JSON.stringify(logs)
    for (const v of input[MODEL_INPUT].data.slice(0, 5))
      assert.ok(!text.includes(String(v)), 'no input value in logs')
  })

  it("works with the SDK's attestedFetch: token, TLS binding, encrypted answer, refusals", async () => {
    const caller = await attestWorkload({ client: client(), workload: CALLER, tee: tee() })
    const expectation = {
      issuer: broker.context.issuer,
      jwks: broker.jwks,
      namespace: 'dx',
      policy: 'diagnostics',
      workload: 'inference',
      measurement: MEASUREMENT,
      allowSim: true,
    }
    const rows = trained.test.x.slice(10, 12)
    const payload = {
      inputs: { [MODEL_INPUT]: { dims: [2, 30], data: rows.flatMap((r) => Array.from(r)) } },
    }
    const local = predictLogistic(trained.model, rows)
    for (const replica of replicas.slice(0, 2)) {
      const { body, service } = await attestedFetch(`${replica.url}/v1/infer`, expectation, {
        payload,
        callerToken: caller.token,
      })
      assert.equal(service.tlsCertSha256, replica.tls.sha256, 'the token binds this certificate')
      const out = (body as { outputs: Record<string, { data: number[] }> }).outputs[MODEL_OUTPUT]
      out?.data.forEach((p, i) => {
        assert.ok(Math.abs(p - (local[i] as number)) < 1e-5)
      })
    }
    const [a] = replicas as [ModelService]
    const seen = logs.length
    await assert.rejects(
      attestedFetch(
        `${a.url}/v1/infer`,
        { ...expectation, measurement: 'cd'.repeat(48) },
        {
          payload,
          callerToken: caller.token,
        },
      ),
      { code: 'ERR_ATTESTED_MEASUREMENT' },
    )
    assert.equal(
      logs.slice(seen).filter((e) => e.event === 'request' && e.path === '/v1/infer').length,
      0,
      'nothing was sent to the service',
    )
    await assert.rejects(
      attestedFetch(`${a.url}/v1/infer`, expectation, { payload, callerToken: a.token() }),
      { code: 'ERR_ATTESTED_REFUSED', details: { status: 401, code: 'ERR_INFER_UNAUTHORIZED' } },
    )
  })

  it('accepts an exchanged token for this audience once, and no other audience', async () => {
    const service = await startModelService({
      modelFile: new Uint8Array(await readFile(modelPath)),
      attest: attestReplica,
      verifyCaller: exchangedCallerVerifier({
        jwks: broker.jwks,
        issuer: broker.context.issuer,
        audience: 'diagnostics',
        replayCache: createMemoryReplayCache(),
        workloads: [CALLER],
      }),
    })
    replicas.push(service)
    const caller = await attestWorkload({ client: client(), workload: CALLER, tee: tee() })
    const input = { [MODEL_INPUT]: { dims: [1, 30], data: Array.from(trained.test.x[1] ?? []) } }
    const call = async (token: string) => {
      const { jwe } = await sealRequest((await attestedKeyOf(service)).jwk, input)
      const res = await httpsCall(`${service.url}/v1/infer`, {
        method: 'POST',
        certPem: service.tls.certPem,
        body: jwe,
        authorization: `Bearer ${token}`,
      })
      return {
        status: res.status,
        code: res.status === 200 ? 'ok' : (JSON.parse(res.body) as { code: string }).code,
      }
    }
    const { token } = await exchangeToken(client(), caller.token, 'diagnostics')
    assert.deepEqual(await call(token), { status: 200, code: 'ok' })
    assert.deepEqual(await call(token), { status: 401, code: 'ERR_INFER_UNAUTHORIZED' }, 'replayed')
    const billing = await exchangeToken(client(), caller.token, 'billing')
    assert.deepEqual(await call(billing.token), { status: 401, code: 'ERR_INFER_UNAUTHORIZED' })
    assert.deepEqual(
      await call(caller.token),
      { status: 401, code: 'ERR_INFER_UNAUTHORIZED' },
      'EAR token',
    )
  })

  it('re-attests with the same keys before its token expires', async () => {
    let attestations = 0
    let readings = 0
    let reattested: () => void = () => {}
    const done = new Promise<void>((resolve) => {
      reattested = resolve
    })
    const service = await startModelService({
      modelFile: new Uint8Array(await readFile(modelPath)),
      attest: async (request) => {
        attestations++
        return attestReplica(request)
      },
      verifyCaller: 'open',
      // The certificate is dated by the first reading; after that the clock is an hour ahead,
      // so the token looks expired and the service re-attests after the floor.
      clock: () => new Date(Date.now() + (readings++ === 0 ? 0 : 3600_000)),
      minReattestDelayMs: 20,
      log: (e) => {
        if (e.event === 'reattested') reattested()
      },
    })
    try {
      const before = service.token()
      await done
      assert.ok(attestations >= 2)
      assert.notEqual(service.token(), before)
      const { jwk } = await attestedKeyOf(service)
      // The new token attests the same request key: a request sealed to it is answered.
      const input = { [MODEL_INPUT]: { dims: [1, 30], data: Array.from(trained.test.x[2] ?? []) } }
      const { jwe, replyPrivateKey } = await sealRequest(jwk, input)
      const res = await httpsCall(`${service.url}/v1/infer`, {
        method: 'POST',
        certPem: service.tls.certPem,
        body: jwe,
      })
      assert.equal(res.status, 200, res.body)
      assert.ok((await openAnswer(res.body, replyPrivateKey)).outputs[MODEL_OUTPUT])
    } finally {
      await service.close()
    }
  })

  it('refuses to start when the policy grants no model key', async () => {
    await assert.rejects(
      startModelService({
        modelFile: new Uint8Array(await readFile(modelPath)),
        attest: async ({ keyPair }) => {
          const attested = await attestWorkload({
            client: client(),
            workload: CALLER,
            tee: tee(),
            keyPair,
          })
          return { token: attested.token, kms: attested.kms }
        },
        verifyCaller: 'open',
      }),
      { code: 'ERR_KMS_NOT_GRANTED' },
    )
  })
})
