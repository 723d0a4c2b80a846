import type { Clock, RandomBytes } from '@subrosa/core'
import { appendAudit } from './audit.ts'
import { BrokerError } from './errors.ts'
import { openRootKey, ROOT_KEK_LAYER, rootKeyRows } from './state.ts'
import { loadState, openDataDir, required, upsert } from './state-rows.ts'
import type { Db } from './store/store.ts'

/** Options of {@link rekeyRootKey}. */
export type RekeyOptions = {
  /** The current unseal key (and KEK, when the state has one). */
  readonly unsealKey: Uint8Array
  readonly kek?: Uint8Array | undefined
  readonly newUnsealKey: Uint8Array
  /** A new KEK; when absent the current one (if any) stays. Adds a KEK layer to a state without. */
  readonly newKek?: Uint8Array | undefined
  readonly clock: Clock
  readonly random: RandomBytes
}

/**
 * Rotate the unseal key (and optionally the KEK) of a stopped broker: open the root key with
 * the current keys and re-seal it under the new ones, audited as `broker.rekey`. The root key
 * itself, and so every sealed value and every recovery share, stays as it is.
 *
 * @throws BrokerError `ERR_BROKER_UNSEAL`, `ERR_BROKER_KEK`, `ERR_BROKER_STATE`.
 */
export async function rekeyRootKey(
  db: Db,
  options: RekeyOptions,
): Promise<{ kek: boolean; kekChanged: boolean }> {
  for (const [key, what, code] of [
    [options.unsealKey, 'unseal key', 'ERR_BROKER_UNSEAL'],
    [options.newUnsealKey, 'new unseal key', 'ERR_BROKER_UNSEAL'],
    [options.kek, 'key-encryption key', 'ERR_BROKER_KEK'],
    [options.newKek, 'new key-encryption key', 'ERR_BROKER_KEK'],
  ] as const) {
    if (key !== undefined && key.length !== 32)
      throw new BrokerError(code, `The ${what} must be 32 bytes`)
  }
  const state = await loadState(db)
  const rootKey = openRootKey(
    required(state, 'root-key'),
    options.unsealKey,
    options.kek,
    state.has(ROOT_KEK_LAYER),
  )
  try {
    const kek = options.newKek ?? options.kek
    await db.transaction(async (tx) => {
      for (const row of rootKeyRows(rootKey, options.newUnsealKey, kek, options.random)) {
        if (row.value === undefined)
          await tx.query('DELETE FROM broker_state WHERE name = $1', [row.name])
        else await upsert(tx, row.name, row.value)
      }
      await appendAudit(tx, options.clock, {
        kind: 'broker.rekey',
        data: { kek: kek !== undefined, kekChanged: options.newKek !== undefined },
      })
    })
    return { kek: kek !== undefined, kekChanged: options.newKek !== undefined }
  } finally {
    rootKey.fill(0)
  }
}

/**
 * {@link rekeyRootKey} on the embedded store of a (stopped) broker's data directory.
 *
 * @throws as {@link rekeyRootKey}; `ERR_BROKER_STATE` when the directory holds no broker.
 */
export async function rekeyBroker(
  options: RekeyOptions & { readonly dataDir: string; readonly postgres?: string | undefined },
): Promise<{ kek: boolean; kekChanged: boolean }> {
  const store = await openDataDir(options.dataDir, options.postgres)
  try {
    return await rekeyRootKey(store.db, options)
  } finally {
    await store.close()
  }
}
