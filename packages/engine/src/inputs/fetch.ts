import { rm } from 'node:fs/promises'
import type { EngineContext } from '../adapters.ts'

/** A local copy of an input: the file itself, or its ciphertext fetched into the scratch dir. */
export type FetchedInput = { readonly path: string; close(): Promise<void> }

/**
 * Make an input location local. Local files are used in place; objects in remote storage are
 * downloaded into the TEE's scratch dir as they are stored (ciphertext), with progress.
 *
 * @throws EngineError `ERR_ENGINE_INPUT` when there is no such object; the store's errors.
 */
export async function fetchInput(
  name: string,
  uri: string,
  ctx: EngineContext,
  location = ctx.resolve(uri).location,
): Promise<FetchedInput> {
  const { store } = ctx.resolve(uri)
  if (store.kind === 'local') return { path: location, close: async () => {} }
  const path = ctx.scratchPath(`${name}.fetched`)
  const total = (await store.stat(location))?.size ?? 0
  try {
    await store.download(location, path, (bytes) =>
      ctx.onProgress?.({ phase: 'input', input: name, bytes, total }),
    )
  } catch (error) {
    await rm(path, { force: true })
    throw error
  }
  return { path, close: () => rm(path, { force: true }) }
}
