import { rm } from 'node:fs/promises'
import { encryptParquetWithKms } from '@subrosa/crypto'
import type { JobOutput } from '@subrosa/policy'
import { openFileSource } from '@subrosa/sdk'
import type { EngineContext, WriteOutput } from '../adapters.ts'
import { keyIdOf } from '../inputs/parquet.ts'
import { copyQuery } from '../query.ts'
import { openOutputSink } from './sink.ts'

/**
 * Encrypt a plaintext Parquet file from the scratch dir as PME (uniform AES_GCM_V1, a fresh DEK
 * wrapped by `masterKeyId`, key material in the footer) into `uri`; returns the bytes written.
 *
 * @throws EngineError `ERR_ENGINE_OUTPUT`; the KMS's errors.
 */
export async function encryptParquetOutput(
  name: string,
  plain: string,
  uri: string,
  masterKeyId: string,
  ctx: EngineContext,
  location?: string,
): Promise<number> {
  const source = await openFileSource(plain)
  const sink = await openOutputSink(name, uri, ctx, location)
  try {
    await encryptParquetWithKms(source, sink, {
      masterKeyId,
      kms: ctx.kms,
      kmsInstanceId: ctx.kmsInstance.id,
      kmsInstanceUrl: ctx.kmsInstance.url,
      onProgress: (bytes, total) =>
        ctx.onProgress?.({ phase: 'output', output: name, rows: 0, bytes, total }),
    })
    return await sink.commit()
  } catch (error) {
    await sink.abort()
    throw error
  } finally {
    await source.close()
  }
}

/**
 * A Parquet output: DuckDB writes the result as plaintext Parquet into the scratch dir only, and
 * Subrosa transcodes it to PME under a fresh DEK wrapped by the output's master key.
 */
export const writeParquetOutput: WriteOutput<Extract<JobOutput, { format: 'parquet' }>> = async (
  name,
  spec,
  run,
  ctx,
) => {
  const plain = ctx.scratchPath(`${name}.plain.parquet`)
  try {
    const rows = await copyQuery(run, plain, 'parquet')
    const id = keyIdOf(spec.key)
    const bytes = await encryptParquetOutput(name, plain, spec.uri, id, ctx)
    return { name, format: 'parquet', uri: spec.uri, masterKeyId: id, rows, bytes, files: 1 }
  } finally {
    await rm(plain, { force: true })
  }
}
