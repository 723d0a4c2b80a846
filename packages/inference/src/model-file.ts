import { createHash } from 'node:crypto'
import { concatBytes, wipe } from '@subrosa/core'
import {
  type ByteSink,
  bytesSource,
  decryptStreamWithKms,
  encryptStreamWithKms,
  type KmsClient,
  memorySink,
} from '@subrosa/crypto'
import { InferenceSession } from 'onnxruntime-node'
import { InferenceError } from './errors.ts'

/** A model opened in memory: the runtime session and the SHA-256 (hex) of the ONNX bytes. */
export type LoadedModel = { readonly session: InferenceSession; readonly sha256: string }

/**
 * Encrypt ONNX bytes into Subrosa's streaming AEAD format under `masterKeyId` (a fresh DEK wrapped
 * by the KMS: the broker, or an in-memory KMS). Same result as `subrosa encrypt --format stream`.
 *
 * @example const file = await encryptModel(onnx, { kms, masterKeyId: 'subrosa:dx/model' })
 * @throws what {@link encryptStreamWithKms} and the KMS throw.
 */
export async function encryptModel(
  onnx: Uint8Array,
  options: { readonly kms: KmsClient; readonly masterKeyId: string },
): Promise<Uint8Array> {
  const sink = memorySink()
  await encryptStreamWithKms(bytesSource(onnx), sink, { ...options, chunkSize: 1 << 16 })
  return sink.bytes()
}

/**
 * Decrypt an encrypted model in memory (never to disk) with the DEK `kms` unwraps, and load it
 * into onnxruntime (CPU). The plaintext buffer is wiped once the runtime has parsed it.
 *
 * @example const { session } = await loadEncryptedModel(await readFile('model.onnx.srsa'), attested.kms)
 * @throws CryptoError from the stream format (`ERR_STREAM_HEADER_AUTH`, `ERR_STREAM_CHUNK_AUTH`,
 * `ERR_STREAM_TRUNCATED`, ...), the KMS's refusals (`ERR_KMS_NOT_GRANTED`), and InferenceError
 * `ERR_INFER_MODEL` when the plaintext is not a model onnxruntime loads.
 */
export async function loadEncryptedModel(file: Uint8Array, kms: KmsClient): Promise<LoadedModel> {
  // Collect the decrypted chunks here (not memorySink) so that each is zeroed once copied.
  const parts: Uint8Array[] = []
  const collect = async (bytes: Uint8Array) => {
    parts.push(bytes)
  }
  let onnx: Uint8Array
  try {
    await decryptStreamWithKms(bytesSource(file), sink(collect), { kms })
    onnx = concatBytes(...parts)
  } finally {
    for (const part of parts) wipe(part)
  }
  try {
    const sha256 = createHash('sha256').update(onnx).digest('hex')
    let session: InferenceSession
    try {
      session = await InferenceSession.create(onnx, {
        executionProviders: ['cpu'],
        intraOpNumThreads: 1,
      })
    } catch (cause) {
      throw new InferenceError(
        'ERR_INFER_MODEL',
        'The decrypted file is not a model onnxruntime can load',
        { cause },
      )
    }
    return { session, sha256 }
  } finally {
    wipe(onnx)
  }
}

function sink(write: (bytes: Uint8Array) => Promise<void>): ByteSink {
  return {
    write,
    writev: async (chunks) => {
      for (const c of chunks) await write(c)
    },
  }
}
