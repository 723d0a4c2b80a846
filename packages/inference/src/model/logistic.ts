// Logistic regression on standardized features, trained by full-batch gradient descent with L2
// regularization: plain float64 arithmetic in a fixed order, so the same data give the same
// parameters bit for bit. Parameters are rounded to float32, the precision the ONNX model holds,
// and evaluation uses the rounded values, so it predicts what onnxruntime computes.
import type { Dataset } from './wdbc.ts'

/** A trained model: standardization and the linear layer, all float32-representable. */
export type LogisticModel = {
  readonly mean: Float32Array
  readonly std: Float32Array
  readonly weights: Float32Array
  readonly bias: number
}

/** Training settings; the defaults are what `subrosa model train` uses. */
export type TrainOptions = {
  readonly iterations?: number
  readonly learningRate?: number
  readonly l2?: number
}

/** A deterministic PRNG (mulberry32) for the split. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Shuffle the sample indices with `seed` and hold out `testFraction` of them (rounded up). */
export function splitDataset(
  data: Dataset,
  seed: number,
  testFraction = 0.2,
): { train: Dataset; test: Dataset } {
  const order = data.x.map((_, i) => i)
  const random = mulberry32(seed)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = order[i] as number
    order[i] = order[j] as number
    order[j] = t
  }
  const nTest = Math.ceil(order.length * testFraction)
  const pick = (idx: number[]): Dataset => ({
    x: idx.map((i) => data.x[i] as Float64Array),
    y: Uint8Array.from(idx, (i) => data.y[i] as number),
  })
  return { test: pick(order.slice(0, nTest)), train: pick(order.slice(nTest)) }
}

/** Train on `data` (labels 1 = positive class). */
export function trainLogistic(data: Dataset, options: TrainOptions = {}): LogisticModel {
  const iterations = options.iterations ?? 3000
  const rate = options.learningRate ?? 0.1
  const l2 = options.l2 ?? 1e-3
  const n = data.x.length
  const d = data.x[0]?.length ?? 0
  const mean = new Float64Array(d)
  const std = new Float64Array(d)
  for (const row of data.x)
    for (let j = 0; j < d; j++) mean[j] = (mean[j] as number) + (row[j] as number) / n
  for (const row of data.x)
    for (let j = 0; j < d; j++)
      std[j] = (std[j] as number) + ((row[j] as number) - (mean[j] as number)) ** 2 / n
  for (let j = 0; j < d; j++) std[j] = Math.sqrt(std[j] as number) || 1
  const meanF = Float32Array.from(mean)
  const stdF = Float32Array.from(std)
  const z = data.x.map((row) => standardize(row, meanF, stdF))
  const w = new Float64Array(d)
  let b = 0
  const grad = new Float64Array(d)
  for (let it = 0; it < iterations; it++) {
    grad.fill(0)
    let gb = 0
    for (let i = 0; i < n; i++) {
      const zi = z[i] as Float64Array
      let s = b
      for (let j = 0; j < d; j++) s += (w[j] as number) * (zi[j] as number)
      const err = sigmoid(s) - (data.y[i] as number)
      for (let j = 0; j < d; j++) grad[j] = (grad[j] as number) + err * (zi[j] as number)
      gb += err
    }
    for (let j = 0; j < d; j++)
      w[j] = (w[j] as number) - rate * ((grad[j] as number) / n + l2 * (w[j] as number))
    b -= (rate * gb) / n
  }
  return { mean: meanF, std: stdF, weights: Float32Array.from(w), bias: Math.fround(b) }
}

function standardize(row: Float64Array, mean: Float32Array, std: Float32Array): Float64Array {
  return row.map((v, j) => (v - (mean[j] as number)) / (std[j] as number))
}

function sigmoid(s: number): number {
  return 1 / (1 + Math.exp(-s))
}

/** The probability of the positive class for each row. */
export function predictLogistic(model: LogisticModel, x: readonly Float64Array[]): Float64Array {
  return Float64Array.from(x, (row) => {
    const z = standardize(row, model.mean, model.std)
    let s = model.bias
    for (let j = 0; j < z.length; j++) s += (model.weights[j] as number) * (z[j] as number)
    return sigmoid(s)
  })
}

/** Accuracy at threshold 0.5, and the confusion counts (positive = malignant). */
export function evaluate(
  probabilities: Float64Array | Float32Array,
  y: Uint8Array,
): { accuracy: number; tp: number; tn: number; fp: number; fn: number } {
  let tp = 0
  let tn = 0
  let fp = 0
  let fn = 0
  probabilities.forEach((p, i) => {
    const predicted = p >= 0.5 ? 1 : 0
    const actual = y[i]
    if (predicted === 1 && actual === 1) tp++
    else if (predicted === 0 && actual === 0) tn++
    else if (predicted === 1) fp++
    else fn++
  })
  return { accuracy: (tp + tn) / y.length, tp, tn, fp, fn }
}
