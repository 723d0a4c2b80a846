import { CryptoError, openSecret, sealSecret } from '@subrosa/crypto'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import type { BrokerKeys } from './state.ts'
import type { Db } from './store/store.ts'

// The key hierarchy: root key (memory only) -> one random 32-byte key per namespace, stored
// sealed by the root key in `namespace_keys` -> master keys and secrets of that namespace, sealed
// by the namespace key. Namespace keys never change once created, so each process caches the
// committed ones it has opened (the database stays the only source of truth; any replica may
// create one).

const cache = new WeakMap<BrokerKeys, Map<string, Uint8Array>>()

function keyContext(namespace: string): string {
  return `namespace-key:${namespace}`
}

function cached(keys: BrokerKeys): Map<string, Uint8Array> {
  let map = cache.get(keys)
  if (map === undefined) {
    map = new Map()
    cache.set(keys, map)
  }
  return map
}

/**
 * The plaintext key of `namespace`, created (random, sealed by the root key) when absent. Several
 * replicas creating it at once agree on the first one stored.
 */
async function namespaceKey(
  ctx: BrokerContext,
  db: Db,
  namespace: string,
  create: boolean,
): Promise<Uint8Array> {
  const known = cached(ctx.keys).get(namespace)
  if (known !== undefined) return known
  const select = async () =>
    (
      await db.query<{ sealed: Uint8Array }>(
        'SELECT sealed FROM namespace_keys WHERE namespace = $1',
        [namespace],
      )
    ).rows[0]
  let row = await select()
  if (row === undefined) {
    if (!create)
      throw new BrokerError('ERR_BROKER_STATE', `Namespace ${namespace} has no namespace key`)
    const key = ctx.random(32)
    const sealed = sealSecret(ctx.keys.rootKey, key, keyContext(namespace), ctx.random)
    key.fill(0)
    await db.query(
      'INSERT INTO namespace_keys (namespace, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (namespace) DO NOTHING',
      [namespace, sealed, ctx.clock()],
    )
    row = await select()
    if (row === undefined)
      throw new BrokerError('ERR_BROKER_STATE', `Namespace key of ${namespace} was not stored`)
  }
  let key: Uint8Array
  try {
    key = openSecret(ctx.keys.rootKey, row.sealed, keyContext(namespace))
  } catch (cause) {
    if (cause instanceof CryptoError)
      throw new BrokerError(
        'ERR_BROKER_STATE',
        `The namespace key of ${namespace} does not open under the root key`,
        { cause },
      )
    throw cause
  }
  // Only committed rows are cached: inside a transaction the row may yet be rolled back.
  if (db.inTransaction !== true) cached(ctx.keys).set(namespace, key)
  return key
}

/**
 * Seal `plaintext` under the key of `namespace` (created on first use), bound to `context`.
 * Pass `db` to take part in a caller's transaction.
 *
 * @example
 * const sealed = await sealForNamespace(ctx, 'acme', key, 'master-key:acme/taxi')
 * @throws BrokerError `ERR_BROKER_STATE` when the stored namespace key does not open.
 */
export async function sealForNamespace(
  ctx: BrokerContext,
  namespace: string,
  plaintext: Uint8Array,
  context: string,
  db: Db = ctx.db,
): Promise<Uint8Array> {
  const key = await namespaceKey(ctx, db, namespace, true)
  return sealSecret(key, plaintext, context, ctx.random)
}

/**
 * Open what {@link sealForNamespace} sealed under the key of `namespace` for `context`.
 *
 * @example
 * const key = await openForNamespace(ctx, 'acme', row.sealed, 'master-key:acme/taxi')
 * @throws BrokerError `ERR_BROKER_STATE` (no or unopenable namespace key); CryptoError
 * `ERR_CRYPTO_AUTH` when `sealed` was changed or sealed for another context.
 */
export async function openForNamespace(
  ctx: BrokerContext,
  namespace: string,
  sealed: Uint8Array,
  context: string,
  db: Db = ctx.db,
): Promise<Uint8Array> {
  const key = await namespaceKey(ctx, db, namespace, false)
  return openSecret(key, sealed, context)
}

/**
 * Refuse a store holding master keys or secrets of a namespace without a namespace key: rows
 * sealed directly by the root key, written before migration 2. No such store was deployed, so
 * they are not carried forward; re-create the store.
 *
 * @throws BrokerError `ERR_BROKER_STATE`.
 */
export async function assertNamespaceKeys(db: Db): Promise<void> {
  const orphans = (
    await db.query<{ namespace: string }>(
      `SELECT namespace FROM master_keys m WHERE NOT EXISTS (SELECT 1 FROM namespace_keys n WHERE n.namespace = m.namespace)
       UNION SELECT namespace FROM secrets s WHERE NOT EXISTS (SELECT 1 FROM namespace_keys n WHERE n.namespace = s.namespace)
       LIMIT 1`,
    )
  ).rows
  if (orphans.length > 0) {
    throw new BrokerError(
      'ERR_BROKER_STATE',
      `The store holds keys of namespace ${orphans[0]?.namespace} sealed before namespace keys existed; re-create the store`,
    )
  }
}

/** Zero and drop the namespace keys this process cached for `keys` (at shutdown). */
export function forgetNamespaceKeys(keys: BrokerKeys): void {
  for (const key of cache.get(keys)?.values() ?? []) key.fill(0)
  cache.delete(keys)
}
