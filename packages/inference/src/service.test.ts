import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { before, describe, it } from 'node:test'
import { utf8 } from '@subrosa/core'
import { createInMemoryKms } from '@subrosa/crypto'
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose'
import { MODEL_INPUT, MODEL_OUTPUT } from './model/export-onnx.ts'
import { predictLogistic } from './model/logistic.ts'
import { type TrainedModel, trainWdbcModel } from './model/train.ts'
import { loadWdbc, WDBC_CSV_PATH } from './model/wdbc.ts'
import { encryptModel, loadEncryptedModel } from './model-file.ts'
import {
  createInferenceHandler,
  type HandlerRequest,
  type InferenceLogEvent,
  type InferenceServiceOptions,
} from './service.ts'
import { openAnswer, sealRequest } from './testing/client.ts'

const skip = existsSync(WDBC_CSV_PATH)
  ? false
  : `${WDBC_CSV_PATH} is absent (apt-get install python3-sklearn)`
const KEY_ID = 'subrosa:dx/model'

/** Three test samples as one float[3,30] input. */
function samples(trained: TrainedModel, n = 3) {
  const rows = trained.test.x.slice(0, n)
  return { rows, tensor: { dims: [n, 30], data: rows.flatMap((r) => Array.from(r)) } }
}

function code(body: string): string {
  return (JSON.parse(body) as { code: string }).code
}

describe('the inference service, in-process', { skip }, () => {
  let trained: TrainedModel
  let tee: { privateKey: CryptoKey; publicKey: CryptoKey }
  let teeJwk: JWK
  let options: InferenceServiceOptions
  const logs: InferenceLogEvent[] = []

  before(async () => {
    trained = trainWdbcModel(await loadWdbc())
    const kms = createInMemoryKms({ [KEY_ID]: new Uint8Array(randomBytes(32)) })
    const file = await encryptModel(trained.onnx, { kms, masterKeyId: KEY_ID })
    const { session, sha256 } = await loadEncryptedModel(file, kms)
    assert.equal(sha256, trained.sha256)
    tee = await generateKeyPair('ECDH-ES+A256KW')
    teeJwk = await exportJWK(tee.publicKey)
    options = {
      session,
      token: () => 'the-ear-token',
      teePrivateKey: tee.privateKey,
      verifyCaller: 'open',
      maxBodyBytes: 64 * 1024,
      log: (e) => logs.push(e),
    }
  })

  const post = (body: string, authorization?: string): HandlerRequest => ({
    method: 'POST',
    path: '/v1/infer',
    body: utf8(body),
    authorization,
  })

  it('answers its token, and an inference equal to the own evaluation, encrypted to the reply key', async () => {
    const handle = createInferenceHandler(options)
    const att = await handle({ method: 'GET', path: '/v1/attestation', body: new Uint8Array(0) })
    assert.deepEqual(JSON.parse(att.body), { token: 'the-ear-token' })
    const { rows, tensor } = samples(trained)
    const { jwe, replyPrivateKey } = await sealRequest(teeJwk, { [MODEL_INPUT]: tensor })
    const res = await handle(post(jwe))
    assert.equal(res.status, 200, res.body)
    assert.equal(res.contentType, 'application/jose')
    assert.ok(!res.body.includes(MODEL_OUTPUT), 'the answer is ciphertext')
    const { outputs } = await openAnswer(res.body, replyPrivateKey)
    assert.deepEqual(outputs[MODEL_OUTPUT]?.dims, [3, 1])
    const own = predictLogistic(trained.model, rows)
    outputs[MODEL_OUTPUT]?.data.forEach((p, i) => {
      assert.ok(Math.abs(p - (own[i] as number)) < 1e-5)
    })
    // Another reply key cannot read the answer.
    const other = await generateKeyPair('ECDH-ES+A256KW')
    await assert.rejects(openAnswer(res.body, other.privateKey))
  })

  it('refuses a request to another key and a tampered JWE, with typed problems', async () => {
    const handle = createInferenceHandler(options)
    const { tensor } = samples(trained)
    const stranger = await generateKeyPair('ECDH-ES+A256KW')
    const toOther = await sealRequest(await exportJWK(stranger.publicKey), {
      [MODEL_INPUT]: tensor,
    })
    const refused = await handle(post(toOther.jwe))
    assert.equal(refused.status, 400)
    assert.equal(refused.contentType, 'application/problem+json')
    assert.equal(code(refused.body), 'ERR_INFER_DECRYPT')
    const good = await sealRequest(teeJwk, { [MODEL_INPUT]: tensor })
    const parts = good.jwe.split('.')
    const ct = parts[3] as string
    parts[3] = `${ct[0] === 'A' ? 'B' : 'A'}${ct.slice(1)}`
    assert.equal(code((await handle(post(parts.join('.')))).body), 'ERR_INFER_DECRYPT')
    assert.equal(code((await handle(post('not a jwe'))).body), 'ERR_INFER_BAD_REQUEST')
    const notJson = await sealRequest(teeJwk, {})
    const badShape = notJson.jwe // {inputs: {}} lacks the model's input
    assert.equal(code((await handle(post(badShape))).body), 'ERR_INFER_SHAPE')
    assert.equal(
      code((await handle({ method: 'GET', path: '/v1/nothing', body: new Uint8Array(0) })).body),
      'ERR_INFER_NOT_FOUND',
    )
  })

  it('validates shapes against the model, never echoing values, and limits the body', async () => {
    const handle = createInferenceHandler(options)
    const secret = 123456.789
    const cases: [Record<string, { dims: number[]; data: number[] }>, number][] = [
      [{ [MODEL_INPUT]: { dims: [1, 29], data: Array(29).fill(secret) } }, 422],
      [{ [MODEL_INPUT]: { dims: [1, 30], data: Array(31).fill(secret) } }, 422],
      [{ [MODEL_INPUT]: { dims: [30], data: Array(30).fill(secret) } }, 422],
      [{ other: { dims: [1, 30], data: Array(30).fill(secret) } }, 422],
      [{ [MODEL_INPUT]: { dims: [1, 30], data: Array(30).fill(1e39) } }, 422],
    ]
    for (const [inputs, status] of cases) {
      const res = await handle(post((await sealRequest(teeJwk, inputs)).jwe))
      assert.equal(res.status, status, res.body)
      assert.equal(code(res.body), 'ERR_INFER_SHAPE')
      assert.ok(!res.body.includes('123456'), 'no input value in the problem')
    }
    const big = await handle(post('x'.repeat(64 * 1024 + 1)))
    assert.equal(big.status, 413)
    assert.equal(code(big.body), 'ERR_INFER_TOO_LARGE')
    assert.ok(logs.length > 0)
    assert.ok(!JSON.stringify(logs).includes('123456'), 'no input value in the logs')
  })

  it('checks the caller token when configured to, before decrypting anything', async () => {
    const seen: string[] = []
    const handle = createInferenceHandler({
      ...options,
      verifyCaller: async (token) => {
        seen.push(token)
        if (token !== 'good-caller') throw new Error('no')
      },
    })
    const { jwe, replyPrivateKey } = await sealRequest(teeJwk, {
      [MODEL_INPUT]: samples(trained, 1).tensor,
    })
    const missing = await handle(post(jwe))
    assert.equal(missing.status, 401)
    assert.equal(code(missing.body), 'ERR_INFER_UNAUTHORIZED')
    assert.equal(
      code((await handle(post(jwe, 'Bearer bad-caller'))).body),
      'ERR_INFER_UNAUTHORIZED',
    )
    const ok = await handle(post(jwe, 'Bearer good-caller'))
    assert.equal(ok.status, 200)
    assert.ok((await openAnswer(ok.body, replyPrivateKey)).outputs[MODEL_OUTPUT])
    assert.deepEqual(seen, ['bad-caller', 'good-caller'])
  })

  it('refuses a model file under another master key or with a changed byte', async () => {
    const kms = createInMemoryKms({ [KEY_ID]: new Uint8Array(randomBytes(32)) })
    const file = await encryptModel(trained.onnx, { kms, masterKeyId: KEY_ID })
    assert.equal(Buffer.from(file).indexOf(Buffer.from(MODEL_INPUT)), -1, 'no ONNX strings')
    const otherKms = createInMemoryKms({ [KEY_ID]: new Uint8Array(randomBytes(32)) })
    await assert.rejects(loadEncryptedModel(file, otherKms), { code: 'ERR_STREAM_HEADER_AUTH' })
    const changed = file.slice()
    changed[changed.length - 20] = (changed[changed.length - 20] as number) ^ 1
    await assert.rejects(loadEncryptedModel(changed, kms), { code: 'ERR_STREAM_CHUNK_AUTH' })
    const notModel = await encryptModel(utf8('not an onnx model'), { kms, masterKeyId: KEY_ID })
    await assert.rejects(loadEncryptedModel(notModel, kms), { code: 'ERR_INFER_MODEL' })
  })
})
