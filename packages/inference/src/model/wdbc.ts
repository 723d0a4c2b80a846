// The Wisconsin Diagnostic Breast Cancer data (Wolberg, Street, Mangasarian 1995; UCI), as
// scikit-learn ships it and Debian's python3-sklearn installs it: a header line
// `569,30,malignant,benign`, then one line per sample: 30 features and the target (0 =
// malignant, 1 = benign).
import { readFile } from 'node:fs/promises'
import { InferenceError } from '../errors.ts'

/** Where Debian's `python3-sklearn` installs the CSV. */
export const WDBC_CSV_PATH =
  '/usr/lib/python3/dist-packages/sklearn/datasets/data/breast_cancer.csv'

/** The 30 feature names, in column order (mean, standard error, worst of ten measurements). */
export const WDBC_FEATURES: readonly string[] = ['mean', 'se', 'worst'].flatMap((stat) =>
  [
    'radius',
    'texture',
    'perimeter',
    'area',
    'smoothness',
    'compactness',
    'concavity',
    'concave_points',
    'symmetry',
    'fractal_dimension',
  ].map((m) => `${stat}_${m}`),
)

/** Samples as rows of 30 features, and labels: 1 = malignant, 0 = benign. */
export type Dataset = { readonly x: readonly Float64Array[]; readonly y: Uint8Array }

/**
 * Parse the CSV text.
 *
 * @throws InferenceError `ERR_INFER_DATASET` for a header, row count or value that does not fit.
 */
export function parseWdbcCsv(text: string): Dataset {
  const lines = text.split('\n').filter((l) => l.trim() !== '')
  const [header, ...rows] = lines
  const [count, features] = (header ?? '').split(',').map(Number)
  if (features !== 30 || count !== rows.length)
    throw new InferenceError(
      'ERR_INFER_DATASET',
      `Expected a header "<rows>,30,..." and as many rows; got ${rows.length} rows`,
    )
  const x: Float64Array[] = []
  const y = new Uint8Array(rows.length)
  rows.forEach((row, i) => {
    const values = row.split(',').map(Number)
    const target = values[30]
    if (
      values.length !== 31 ||
      values.some((v) => !Number.isFinite(v)) ||
      (target !== 0 && target !== 1)
    )
      throw new InferenceError(
        'ERR_INFER_DATASET',
        `Row ${i + 2} is not 30 numbers and a 0/1 target`,
      )
    x.push(Float64Array.from(values.slice(0, 30)))
    y[i] = target === 0 ? 1 : 0
  })
  return { x, y }
}

/**
 * Read and parse the CSV at `path` (default: Debian's python3-sklearn copy).
 *
 * @throws InferenceError `ERR_INFER_DATASET` when it is absent or malformed.
 */
export async function loadWdbc(path: string = WDBC_CSV_PATH): Promise<Dataset> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (cause) {
    throw new InferenceError(
      'ERR_INFER_DATASET',
      `Cannot read ${path} (install Debian's python3-sklearn)`,
      { cause },
    )
  }
  return parseWdbcCsv(text)
}
