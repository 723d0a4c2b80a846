import type { LogisticModel } from './logistic.ts'
import { encodeOnnxModel } from './onnx-writer.ts'

/** The model's input (float[N,30]) and output (float[N,1], probability of malignancy). */
export const MODEL_INPUT = 'features'
export const MODEL_OUTPUT = 'p_malignant'

/**
 * The logistic regression as an ONNX model (IR 8, opset 13, standard operators only):
 * `Sub(features, mean) -> Div(std) -> MatMul(W[30,1]) -> Add(B[1]) -> Sigmoid -> p_malignant`.
 */
export function logisticToOnnx(model: LogisticModel, docString: string): Uint8Array {
  const d = model.weights.length
  return encodeOnnxModel({
    irVersion: 8,
    opsetVersion: 13,
    producerName: 'subrosa',
    producerVersion: '0.1.0',
    docString,
    graph: {
      name: 'wdbc_logistic_regression',
      nodes: [
        { opType: 'Sub', name: 'center', inputs: [MODEL_INPUT, 'mean'], outputs: ['centered'] },
        { opType: 'Div', name: 'scale', inputs: ['centered', 'std'], outputs: ['z'] },
        { opType: 'MatMul', name: 'linear', inputs: ['z', 'W'], outputs: ['zw'] },
        { opType: 'Add', name: 'bias', inputs: ['zw', 'B'], outputs: ['logit'] },
        { opType: 'Sigmoid', name: 'probability', inputs: ['logit'], outputs: [MODEL_OUTPUT] },
      ],
      initializers: [
        { name: 'mean', dims: [d], data: model.mean },
        { name: 'std', dims: [d], data: model.std },
        { name: 'W', dims: [d, 1], data: model.weights },
        { name: 'B', dims: [1], data: Float32Array.of(model.bias) },
      ],
      inputs: [{ name: MODEL_INPUT, dims: ['N', d] }],
      outputs: [{ name: MODEL_OUTPUT, dims: ['N', 1] }],
    },
  })
}
