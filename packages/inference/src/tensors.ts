// The plaintext of an inference request and answer, and the check of request tensors against the
// model's input metadata. Messages name inputs and dimensions, never values.
import type { InferenceSession } from 'onnxruntime-node'
import { Tensor } from 'onnxruntime-node'
import { z } from 'zod'
import { InferenceError } from './errors.ts'

const MAX_DIM = 2 ** 31 - 1

const tensorSchema = z.strictObject({
  dims: z.array(z.number().int().min(1).max(MAX_DIM)).max(8),
  data: z.array(z.number()),
})

/** A tensor on the wire: dimensions and row-major data. */
export type WireTensor = { readonly dims: readonly number[]; readonly data: readonly number[] }

/** The plaintext JSON of a `POST /v1/infer` body. */
export const inferRequestSchema = z.strictObject({
  inputs: z.record(z.string().min(1).max(256), tensorSchema),
  replyKey: z.looseObject({
    kty: z.literal('EC'),
    crv: z.literal('P-256'),
    x: z.string().max(64),
    y: z.string().max(64),
  }),
})

export type InferRequest = z.infer<typeof inferRequestSchema>

/** Input names and shapes of a loaded model (float32 tensors only). */
export type ModelSignature = {
  readonly inputs: readonly { readonly name: string; readonly dims: readonly (number | string)[] }[]
}

/**
 * The signature of `session`.
 *
 * @throws InferenceError `ERR_INFER_MODEL` when an input is not a float32 tensor (unsupported).
 */
export function signatureOf(session: InferenceSession): ModelSignature {
  return {
    inputs: session.inputMetadata.map((m) => {
      if (!m.isTensor || m.type !== 'float32')
        throw new InferenceError(
          'ERR_INFER_MODEL',
          `Model input ${JSON.stringify(m.name)} is not a float32 tensor (unsupported)`,
        )
      return { name: m.name, dims: [...m.shape] }
    }),
  }
}

/**
 * Check the request's inputs against the model and make runtime tensors of them.
 *
 * @throws InferenceError `ERR_INFER_SHAPE` for a missing or unknown input, a wrong rank or fixed
 * dimension, a data length that is not the product of the dimensions, or a non-finite value.
 */
export function toRuntimeInputs(
  signature: ModelSignature,
  inputs: Readonly<Record<string, WireTensor>>,
  maxElements: number,
): Record<string, Tensor> {
  const expected = new Set(signature.inputs.map((i) => i.name))
  for (const name of Object.keys(inputs))
    if (!expected.has(name))
      throw shape(`The model has no input ${JSON.stringify(name)}`, { input: name })
  const out: Record<string, Tensor> = {}
  let total = 0
  for (const spec of signature.inputs) {
    const t = inputs[spec.name]
    if (t === undefined)
      throw shape(`Input ${JSON.stringify(spec.name)} is missing`, { input: spec.name })
    if (t.dims.length !== spec.dims.length)
      throw shape(
        `Input ${JSON.stringify(spec.name)} has rank ${t.dims.length}, not ${spec.dims.length}`,
        {
          input: spec.name,
        },
      )
    spec.dims.forEach((d, axis) => {
      if (typeof d === 'number' && d > 0 && t.dims[axis] !== d)
        throw shape(
          `Input ${JSON.stringify(spec.name)} dimension ${axis} must be ${d}, not ${t.dims[axis]}`,
          {
            input: spec.name,
            axis,
          },
        )
    })
    const size = t.dims.reduce((a, b) => a * b, 1)
    total += size
    if (total > maxElements)
      throw shape(`The inputs have more than ${maxElements} elements`, { limit: maxElements })
    if (t.data.length !== size)
      throw shape(
        `Input ${JSON.stringify(spec.name)} has ${t.data.length} values for dimensions ${t.dims.join('x')}`,
        {
          input: spec.name,
        },
      )
    const data = Float32Array.from(t.data)
    if (!data.every(Number.isFinite))
      throw shape(`Input ${JSON.stringify(spec.name)} has a value that is not a finite float32`, {
        input: spec.name,
      })
    out[spec.name] = new Tensor('float32', data, [...t.dims])
  }
  return out
}

/** Runtime outputs as wire tensors. */
export function fromRuntimeOutputs(
  outputs: Readonly<Record<string, Tensor>>,
): Record<string, WireTensor> {
  const out: Record<string, WireTensor> = {}
  for (const [name, t] of Object.entries(outputs))
    out[name] = { dims: [...t.dims], data: Array.from(t.data as ArrayLike<number>) }
  return out
}

function shape(message: string, details: Record<string, string | number>): InferenceError {
  return new InferenceError('ERR_INFER_SHAPE', message, { details })
}
