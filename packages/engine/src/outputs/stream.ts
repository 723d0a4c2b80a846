import { rm } from 'node:fs/promises'
import { encryptStreamWithKms } from '@subrosa/crypto'
import type { JobOutput } from '@subrosa/policy'
import { openFileSource } from '@subrosa/sdk'
import type { WriteOutput } from '../adapters.ts'
import { keyIdOf } from '../inputs/parquet.ts'
import { copyQuery } from '../query.ts'
import { openOutputSink } from './sink.ts'

type StreamOutput = Extract<JobOutput, { format: 'csv' | 'jsonl' }>

/**
 * A CSV or JSON lines output: DuckDB writes the result into the scratch dir, and Subrosa encrypts
 * it in its streaming AEAD format under a fresh DEK wrapped by the output's master key.
 */
export const writeStreamOutput: WriteOutput<StreamOutput> = async (name, spec, run, ctx) => {
  const plain = ctx.scratchPath(`${name}.plain.${spec.format}`)
  try {
    const rows = await copyQuery(
      run,
      plain,
      spec.format,
      spec.format === 'csv' ? { header: spec.header } : {},
    )
    const masterKeyId = keyIdOf(spec.key)
    const source = await openFileSource(plain)
    const sink = await openOutputSink(name, spec.uri, ctx)
    try {
      const total = source.size
      await encryptStreamWithKms(source, sink, {
        kms: ctx.kms,
        masterKeyId,
        onProgress: (bytes) =>
          ctx.onProgress?.({ phase: 'output', output: name, rows, bytes, total }),
      })
      const bytes = await sink.commit()
      return { name, format: spec.format, uri: spec.uri, masterKeyId, rows, bytes, files: 1 }
    } catch (error) {
      await sink.abort()
      throw error
    } finally {
      await source.close()
    }
  } finally {
    await rm(plain, { force: true })
  }
}
