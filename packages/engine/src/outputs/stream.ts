import { randomBytes } from 'node:crypto'
import { rm } from 'node:fs/promises'
import { wipe } from '@subrosa/core'
import { encryptStream } from '@subrosa/crypto'
import type { JobOutput } from '@subrosa/policy'
import { openFileSource } from '@subrosa/sdk'
import type { WriteOutput } from '../adapters.ts'
import { keyIdOf } from '../inputs/parquet.ts'
import { copyQuery } from '../query.ts'
import { openOutputSink } from './sink.ts'

/**
 * A CSV or JSON lines output: DuckDB writes the result into the scratch dir, and Subrosa encrypts
 * it in its streaming AEAD format under a fresh DEK wrapped by the output's master key.
 */
export const writeStreamOutput: WriteOutput<
  Extract<JobOutput, { format: 'csv' | 'jsonl' }>
> = async (name, spec, run, ctx) => {
  const plain = ctx.scratchPath(`${name}.plain.${spec.format}`)
  const dek = new Uint8Array(randomBytes(32))
  try {
    const rows = await copyQuery(
      run,
      plain,
      spec.format,
      spec.format === 'csv' ? { header: spec.header } : {},
    )
    const keyId = keyIdOf(spec.key)
    const wrappedDek = await ctx.kms.wrapKey(dek, keyId)
    const source = await openFileSource(plain)
    const sink = await openOutputSink(name, spec.uri, ctx)
    try {
      const total = source.size
      await encryptStream(source, sink, {
        dek,
        keyId,
        wrappedDek,
        onProgress: (bytes) =>
          ctx.onProgress?.({ phase: 'output', output: name, rows, bytes, total }),
      })
      const bytes = await sink.commit()
      return { name, format: spec.format, uri: spec.uri, masterKeyId: keyId, rows, bytes, files: 1 }
    } catch (error) {
      await sink.abort()
      throw error
    } finally {
      await source.close()
    }
  } finally {
    wipe(dek)
    await rm(plain, { force: true })
  }
}
