import { BaseError } from '@subrosa/core'

/** Codes of `inference`, each with the one-line meaning published in docs/errors.md. */
export const INFERENCE_ERRORS = {
  ERR_INFER_DATASET: 'The training data (CSV) cannot be read or does not have the expected shape.',
  ERR_INFER_MODEL:
    'The model cannot be decrypted or loaded (wrong key, changed file, or not an ONNX model).',
  ERR_INFER_BAD_REQUEST:
    'The inference request is not a compact JWE, or its decrypted JSON is not {inputs, replyKey}.',
  ERR_INFER_DECRYPT:
    'The inference request does not decrypt with the attested key (encrypted to another key, or changed).',
  ERR_INFER_TOO_LARGE: 'The inference request body is larger than the service accepts.',
  ERR_INFER_SHAPE:
    "The request's inputs do not match the model's input names, element type or dimensions.",
  ERR_INFER_UNAUTHORIZED: "The caller's bearer token is missing or does not verify.",
  ERR_INFER_RUN: 'The model failed to run on valid inputs.',
  ERR_INFER_NOT_FOUND: 'No such endpoint on the inference service.',
} as const

export type InferenceErrorCode = keyof typeof INFERENCE_ERRORS

export class InferenceError extends BaseError<InferenceErrorCode> {}

/** The HTTP status each code is answered with (RFC 7807 problem bodies). */
export const INFERENCE_HTTP_STATUS: Readonly<Record<InferenceErrorCode, number>> = {
  ERR_INFER_DATASET: 500,
  ERR_INFER_MODEL: 500,
  ERR_INFER_BAD_REQUEST: 400,
  ERR_INFER_DECRYPT: 400,
  ERR_INFER_TOO_LARGE: 413,
  ERR_INFER_SHAPE: 422,
  ERR_INFER_UNAUTHORIZED: 401,
  ERR_INFER_RUN: 500,
  ERR_INFER_NOT_FOUND: 404,
}
