import { rm } from 'node:fs/promises'
import { decryptStreamWithKms, readStreamHeader } from '@subrosa/crypto'
import type { JobInput } from '@subrosa/policy'
import { createAtomicFileSink, openFileSource } from '@subrosa/sdk'
import type { OpenInput } from '../adapters.ts'
import { EngineError } from '../errors.ts'
import { sqlString } from '../sql.ts'
import { fetchInput } from './fetch.ts'
import { canonical, keyIdOf } from './parquet.ts'

type StreamInput = Extract<JobInput, { format: 'csv' | 'jsonl' }>

/**
 * A CSV or JSON lines input in Subrosa's streaming AEAD format: the header's key id is checked
 * against the job's key, the DEK unwrapped through the KMS, and the file decrypted chunk by chunk
 * into the TEE's scratch dir, where DuckDB reads it (`read_csv` / `read_json`).
 *
 * @throws EngineError `ERR_ENGINE_INPUT`, `ERR_ENGINE_KEY_MISMATCH`; CryptoError `ERR_STREAM_*`
 * for a truncated, reordered, swapped or tampered file; the KMS's errors.
 */
export const openStreamInput: OpenInput<StreamInput> = async (name, spec, ctx) => {
  const fetched = await fetchInput(name, spec.uri, ctx)
  const plain = ctx.scratchPath(`${name}.plain.${spec.format}`)
  try {
    const source = await openFileSource(fetched.path).catch((cause: unknown) => {
      throw new EngineError('ERR_ENGINE_INPUT', `Cannot open input ${name}`, { cause })
    })
    const sink = await createAtomicFileSink(plain, 0o600)
    let keyId = ''
    try {
      const { header, length } = await readStreamHeader(source)
      keyId = canonical(header.keyId) ?? header.keyId
      if (spec.key !== undefined && keyId !== keyIdOf(spec.key))
        throw new EngineError(
          'ERR_ENGINE_KEY_MISMATCH',
          `Input ${name} is encrypted under ${header.keyId}, not ${keyIdOf(spec.key)}`,
        )
      // Plaintext bytes: the chunks after the header, less a 16-byte tag each.
      const rest = source.size - length
      const total = rest - (Math.floor(rest / (header.chunkSize + 16)) + 1) * 16
      await decryptStreamWithKms(source, sink, {
        kms: ctx.kms,
        onProgress: (bytes) => ctx.onProgress?.({ phase: 'input', input: name, bytes, total }),
      })
      await sink.commit()
    } catch (error) {
      await sink.abort()
      throw error
    } finally {
      await source.close()
    }
    return {
      relation: relationOf(spec, plain),
      parameters: {},
      readablePaths: [plain],
      summary: {
        name,
        format: spec.format,
        uri: spec.uri,
        masterKeyId: keyId,
        bytes: source.size,
        files: 1,
        read: 'scratch',
        droppedColumns: [],
      },
      close: async () => {
        await rm(plain, { force: true })
        await fetched.close()
      },
    }
  } catch (error) {
    await rm(plain, { force: true })
    await fetched.close()
    throw error
  }
}

function relationOf(spec: StreamInput, path: string): string {
  const columns =
    spec.columns === undefined
      ? ''
      : `, columns = {${Object.entries(spec.columns)
          .map(([column, type]) => `${sqlString(column)}: ${sqlString(type)}`)
          .join(', ')}}`
  if (spec.format === 'jsonl')
    return `read_json(${sqlString(path)}, format = 'newline_delimited'${columns})`
  return `read_csv(${sqlString(path)}, header = ${spec.header}, delim = ${sqlString(spec.delimiter)}${columns})`
}
