export { earCallerVerifier, exchangedCallerVerifier } from './callers.ts'
export {
  INFERENCE_ERRORS,
  INFERENCE_HTTP_STATUS,
  InferenceError,
  type InferenceErrorCode,
} from './errors.ts'
export { logisticToOnnx, MODEL_INPUT, MODEL_OUTPUT } from './model/export-onnx.ts'
export {
  evaluate,
  type LogisticModel,
  predictLogistic,
  splitDataset,
  type TrainOptions,
  trainLogistic,
} from './model/logistic.ts'
export {
  encodeOnnxModel,
  type OnnxInitializer,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
} from './model/onnx-writer.ts'
export { DEFAULT_SPLIT_SEED, type TrainedModel, trainWdbcModel } from './model/train.ts'
export {
  type Dataset,
  loadWdbc,
  parseWdbcCsv,
  WDBC_CSV_PATH,
  WDBC_FEATURES,
} from './model/wdbc.ts'
export { encryptModel, type LoadedModel, loadEncryptedModel } from './model-file.ts'
export {
  type AttestRequest,
  type AttestResult,
  type ModelService,
  type ModelServiceLogEvent,
  type ModelServiceOptions,
  startModelService,
} from './model-service.ts'
export {
  createInferenceHandler,
  type HandlerRequest,
  type HandlerResponse,
  INFER_JWE,
  type InferenceLogEvent,
  type InferenceServiceOptions,
  type RunningInferenceService,
  serveInference,
  type VerifyCaller,
} from './service.ts'
export {
  type InferRequest,
  inferRequestSchema,
  type ModelSignature,
  signatureOf,
  type WireTensor,
} from './tensors.ts'
export { createServiceCertificate, type ServiceTlsCredentials } from './tls.ts'
