import { createHash } from 'node:crypto'
import { logisticToOnnx } from './export-onnx.ts'
import {
  evaluate,
  type LogisticModel,
  predictLogistic,
  splitDataset,
  type TrainOptions,
  trainLogistic,
} from './logistic.ts'
import type { Dataset } from './wdbc.ts'

/** The split seed `subrosa model train` uses. */
export const DEFAULT_SPLIT_SEED = 20261122

/** What {@link trainWdbcModel} returns: the ONNX bytes, the test split, and the evaluation. */
export type TrainedModel = {
  readonly onnx: Uint8Array
  readonly sha256: string
  readonly model: LogisticModel
  readonly test: Dataset
  /** The project's own probabilities on the test split. */
  readonly testProbabilities: Float64Array
  readonly metrics: {
    readonly trainSamples: number
    readonly testSamples: number
    readonly trainAccuracy: number
    readonly testAccuracy: number
    /** Malignant cases found among the malignant test cases. */
    readonly sensitivity: number
    readonly specificity: number
  }
}

/**
 * Split (seeded), train, evaluate and export the WDBC logistic regression. Deterministic: the
 * same data, seed and options give the same ONNX bytes.
 */
export function trainWdbcModel(
  data: Dataset,
  options: TrainOptions & { readonly seed?: number } = {},
): TrainedModel {
  const seed = options.seed ?? DEFAULT_SPLIT_SEED
  const { train, test } = splitDataset(data, seed)
  const model = trainLogistic(train, options)
  const testProbabilities = predictLogistic(model, test.x)
  const onTest = evaluate(testProbabilities, test.y)
  const onTrain = evaluate(predictLogistic(model, train.x), train.y)
  const onnx = logisticToOnnx(
    model,
    `Logistic regression on the Wisconsin Diagnostic Breast Cancer data (UCI; scikit-learn copy). Output: probability of malignancy. Split seed ${seed}, ${train.x.length} training samples.`,
  )
  return {
    onnx,
    sha256: createHash('sha256').update(onnx).digest('hex'),
    model,
    test,
    testProbabilities,
    metrics: {
      trainSamples: train.x.length,
      testSamples: test.x.length,
      trainAccuracy: onTrain.accuracy,
      testAccuracy: onTest.accuracy,
      sensitivity: onTest.tp / (onTest.tp + onTest.fn),
      specificity: onTest.tn / (onTest.tn + onTest.fp),
    },
  }
}
