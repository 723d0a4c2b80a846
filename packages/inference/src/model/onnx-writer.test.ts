import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { InferenceSession, Tensor } from 'onnxruntime-node'
import { encodeOnnxModel, type OnnxModel } from './onnx-writer.ts'

/** x float[2,200] -> Transpose(perm [1,0]) -> Mul(scale[1]) -> y float[200,2]. */
const MODEL: OnnxModel = {
  irVersion: 8,
  opsetVersion: 13,
  producerName: 'subrosa-test',
  producerVersion: '0',
  docString: 'writer test',
  graph: {
    name: 'transpose_scale',
    nodes: [
      {
        opType: 'Transpose',
        name: 't',
        inputs: ['x'],
        outputs: ['xt'],
        intsAttributes: { perm: [1, 0] },
      },
      { opType: 'Mul', name: 'm', inputs: ['xt', 'scale'], outputs: ['y'] },
    ],
    initializers: [{ name: 'scale', dims: [1], data: Float32Array.of(-2.5) }],
    inputs: [{ name: 'x', dims: [2, 200] }],
    outputs: [{ name: 'y', dims: [200, 'two'] }],
  },
  metadata: { source: 'test' },
}

describe('encodeOnnxModel', () => {
  it('writes a model onnxruntime loads and runs (attributes, multi-byte varints, metadata)', async () => {
    const bytes = encodeOnnxModel(MODEL)
    assert.deepEqual([...bytes.subarray(0, 2)], [0x08, 0x08], 'field 1 varint = IR 8')
    assert.deepEqual(encodeOnnxModel(MODEL), bytes, 'deterministic')
    const session = await InferenceSession.create(bytes)
    assert.deepEqual(session.inputNames, ['x'])
    const x = Float32Array.from({ length: 400 }, (_, i) => i)
    const { y } = await session.run({ x: new Tensor('float32', x, [2, 200]) })
    assert.deepEqual(y?.dims, [200, 2])
    const out = y?.data as Float32Array
    assert.equal(out[1], 200 * -2.5, 'y[0][1] = x[1][0] * scale')
    assert.equal(out[399], 399 * -2.5)
    await session.release()
  })

  it('refuses a negative or fractional dimension, and onnxruntime refuses a cut model', async () => {
    const bad = { ...MODEL, graph: { ...MODEL.graph, inputs: [{ name: 'x', dims: [-1, 200] }] } }
    assert.throws(() => encodeOnnxModel(bad), RangeError)
    const half = { ...MODEL, graph: { ...MODEL.graph, inputs: [{ name: 'x', dims: [2.5, 200] }] } }
    assert.throws(() => encodeOnnxModel(half), RangeError)
    const bytes = encodeOnnxModel(MODEL)
    await assert.rejects(InferenceSession.create(bytes.subarray(0, bytes.length - 7)))
  })
})
