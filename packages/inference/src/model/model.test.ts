import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { InferenceSession, Tensor } from 'onnxruntime-node'
import { MODEL_INPUT, MODEL_OUTPUT } from './export-onnx.ts'
import { evaluate } from './logistic.ts'
import { trainWdbcModel } from './train.ts'
import { loadWdbc, parseWdbcCsv, WDBC_CSV_PATH } from './wdbc.ts'

const skip = existsSync(WDBC_CSV_PATH)
  ? false
  : `${WDBC_CSV_PATH} is absent (apt-get install python3-sklearn)`

describe('the WDBC logistic regression and its ONNX export', { skip }, () => {
  it('trains to >= 0.95 test accuracy, and onnxruntime agrees with the own evaluation', async () => {
    const data = await loadWdbc()
    assert.equal(data.x.length, 569)
    assert.equal(
      data.y.reduce((s, v) => s + v, 0),
      212,
      '212 malignant',
    )
    const trained = trainWdbcModel(data)
    assert.equal(trained.metrics.testSamples, 114)
    assert.ok(trained.metrics.testAccuracy >= 0.95, `test accuracy ${trained.metrics.testAccuracy}`)

    const session = await InferenceSession.create(trained.onnx, { intraOpNumThreads: 1 })
    assert.deepEqual(session.inputNames, [MODEL_INPUT])
    assert.deepEqual(session.outputNames, [MODEL_OUTPUT])
    const n = trained.test.x.length
    const flat = new Float32Array(n * 30)
    trained.test.x.forEach((row, i) => {
      flat.set(row, i * 30)
    })
    const out = await session.run({ [MODEL_INPUT]: new Tensor('float32', flat, [n, 30]) })
    const p = out[MODEL_OUTPUT]
    assert.ok(p !== undefined)
    assert.deepEqual(p.dims, [n, 1])
    const ort = p.data as Float32Array
    let maxDiff = 0
    for (let i = 0; i < n; i++)
      maxDiff = Math.max(
        maxDiff,
        Math.abs((ort[i] as number) - (trained.testProbabilities[i] as number)),
      )
    assert.ok(maxDiff < 1e-5, `max |ort - own| = ${maxDiff}`)
    assert.equal(evaluate(ort, trained.test.y).accuracy, trained.metrics.testAccuracy)
    await session.release()
  })

  it('is byte-reproducible, and another seed gives another model', async () => {
    const data = await loadWdbc()
    const a = trainWdbcModel(data, { iterations: 300 })
    const b = trainWdbcModel(data, { iterations: 300 })
    assert.deepEqual(a.onnx, b.onnx)
    assert.equal(a.sha256, b.sha256)
    const c = trainWdbcModel(data, { iterations: 300, seed: 7 })
    assert.notEqual(c.sha256, a.sha256)
  })
})

describe('parseWdbcCsv', () => {
  it('refuses a header that does not match the rows, and a bad target', () => {
    const row = `${Array(30).fill('1').join(',')},0`
    assert.equal(parseWdbcCsv(`1,30,malignant,benign\n${row}\n`).y[0], 1)
    assert.throws(() => parseWdbcCsv(`2,30,m,b\n${row}\n`), { code: 'ERR_INFER_DATASET' })
    assert.throws(() => parseWdbcCsv(`1,30,m,b\n${row.slice(0, -1)}2\n`), {
      code: 'ERR_INFER_DATASET',
    })
    assert.throws(() => parseWdbcCsv(`1,30,m,b\n${row.replace('1', 'x')}\n`), {
      code: 'ERR_INFER_DATASET',
    })
  })
})
