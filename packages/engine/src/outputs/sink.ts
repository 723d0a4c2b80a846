import { mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { ByteSink } from '@subrosa/crypto'
import { createAtomicFileSink } from '@subrosa/sdk'
import type { EngineContext } from '../adapters.ts'
import { EngineError } from '../errors.ts'

/** Where an output's ciphertext goes: committed in one step, or aborted leaving nothing. */
export type OutputSink = ByteSink & {
  /** Put the written bytes in place (rename, or upload to remote storage); returns the bytes. */
  commit(): Promise<number>
  abort(): Promise<void>
}

/**
 * A sink for one encrypted output file. Local outputs are written to a temp file renamed into
 * place; remote ones are written into the scratch dir (ciphertext) and uploaded on commit. An
 * existing object is only replaced by a complete new one.
 *
 * @throws EngineError `ERR_ENGINE_OUTPUT` when the location cannot be written.
 */
export async function openOutputSink(
  name: string,
  uri: string,
  ctx: EngineContext,
  location = ctx.resolve(uri).location,
): Promise<OutputSink> {
  const { store } = ctx.resolve(uri)
  const local = store.kind === 'local' ? location : ctx.scratchPath(`${name}.out`)
  if (store.kind === 'local') await mkdir(dirname(local), { recursive: true }).catch(() => {})
  const sink = await createAtomicFileSink(local).catch((cause: unknown) => {
    throw new EngineError('ERR_ENGINE_OUTPUT', `Cannot write output ${name} (${uri})`, { cause })
  })
  return {
    write: (bytes) => sink.write(bytes),
    async commit() {
      await sink.commit()
      if (store.kind === 'local') return sink.written
      try {
        return await store.upload(local, location)
      } finally {
        await rm(local, { force: true })
      }
    },
    abort: () => sink.abort(),
  }
}
