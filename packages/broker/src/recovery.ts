import { timingSafeEqual } from 'node:crypto'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Clock, fromUtf8, type RandomBytes, utf8 } from '@subrosa/core'
import { CryptoError, shamirCombine, shamirSplit } from '@subrosa/crypto'
import { appendAudit } from './audit.ts'
import { BrokerError } from './errors.ts'
import {
  brokerIdOf,
  encodeRecoveryShare,
  type RecoveryShare,
  type RecoveryShareFile,
} from './recovery-share.ts'
import { ROOT_CHECK, ROOT_KEK_LAYER, rootKeyCheck, rootKeyRows } from './state.ts'
import { loadState, openDataDir, required, upsert } from './state-rows.ts'
import type { Db } from './store/store.ts'

const RECOVERY = 'recovery'
const CA_CERT = 'ca-cert'
const CUSTODIAN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/

/** k-of-n recovery of the root key, one share per named custodian. */
export type RecoveryOptions = {
  readonly threshold: number
  readonly custodians: readonly string[]
}

/** What the broker keeps about recovery: no share bytes. */
export type RecoveryMetadata = {
  readonly version: 1
  readonly broker: string
  readonly threshold: number
  readonly shares: number
  readonly custodians: readonly string[]
  readonly createdAt: string
}

/**
 * Split the root key into k-of-n shares for named custodians, once: hand the share files to
 * `write` (which must persist them), then record the recovery metadata and the root key's check
 * value. When the state already has recovery set up with the same parameters nothing happens.
 *
 * @throws BrokerError `ERR_BROKER_RECOVERY` for invalid parameters or a state that already has
 * recovery set up with other ones.
 */
export async function setUpRecovery(
  db: Db,
  rootKey: Uint8Array,
  options: RecoveryOptions,
  clock: Clock,
  random: RandomBytes,
  write: (files: readonly RecoveryShareFile[]) => Promise<void>,
): Promise<{ created: boolean; metadata: RecoveryMetadata; files: RecoveryShareFile[] }> {
  const { threshold, custodians } = options
  checkOptions(options)
  const state = await loadState(db)
  const broker = brokerIdOf(fromUtf8(required(state, CA_CERT)))
  const existing = state.get(RECOVERY)
  if (existing !== undefined) {
    const metadata = parseMetadata(existing)
    if (
      metadata.threshold !== threshold ||
      metadata.custodians.join('\n') !== custodians.join('\n')
    ) {
      throw new BrokerError(
        'ERR_BROKER_RECOVERY',
        `Recovery shares already exist (${metadata.threshold} of ${metadata.custodians.join(', ')}); they are not re-split`,
      )
    }
    return { created: false, metadata, files: [] }
  }
  const metadata: RecoveryMetadata = {
    version: 1,
    broker,
    threshold,
    shares: custodians.length,
    custodians: [...custodians],
    createdAt: clock().toISOString(),
  }
  const split = shamirSplit(rootKey, threshold, custodians.length, random)
  const files = split.map((s, i) => {
    const custodian = custodians[i] as string
    const text = encodeRecoveryShare({
      broker,
      custodian,
      threshold,
      shares: custodians.length,
      index: s.index,
      bytes: s.bytes,
    })
    s.bytes.fill(0)
    return { custodian, fileName: `subrosa-share-${broker.slice(0, 8)}-${custodian}.json`, text }
  })
  await write(files)
  await db.transaction(async (tx) => {
    await upsert(tx, RECOVERY, utf8(JSON.stringify(metadata)))
    await upsert(tx, ROOT_CHECK, rootKeyCheck(rootKey))
    await appendAudit(tx, clock, {
      kind: 'broker.recovery-shares',
      data: { threshold, shares: custodians.length, custodians: [...custodians] },
    })
  })
  return { created: true, metadata, files }
}

/**
 * {@link setUpRecovery} writing the share files into `sharesDir` (created 0700; files 0600, never
 * overwritten), or only returning them when `sharesDir` is undefined.
 *
 * @throws BrokerError `ERR_BROKER_RECOVERY`, also when a share file already exists.
 */
export async function setUpRecoveryFiles(
  db: Db,
  rootKey: Uint8Array,
  options: RecoveryOptions & { readonly sharesDir?: string | undefined },
  clock: Clock,
  random: RandomBytes,
): Promise<(RecoveryShareFile & { readonly path?: string })[]> {
  const out: (RecoveryShareFile & { path?: string })[] = []
  const { sharesDir } = options
  await setUpRecovery(db, rootKey, options, clock, random, async (files) => {
    if (sharesDir !== undefined) await mkdir(sharesDir, { recursive: true, mode: 0o700 })
    for (const file of files) {
      if (sharesDir === undefined) {
        out.push(file)
        continue
      }
      const path = join(sharesDir, file.fileName)
      try {
        await writeFile(path, file.text, { mode: 0o600, flag: 'wx' })
        await chmod(path, 0o600)
      } catch (cause) {
        throw new BrokerError(
          'ERR_BROKER_RECOVERY',
          `Cannot create recovery share file ${path} (it must not exist yet)`,
          { cause },
        )
      }
      out.push({ ...file, path })
    }
  })
  return out
}

/** Options of {@link recoverRootKey}. */
export type RecoverOptions = {
  readonly shares: readonly RecoveryShare[]
  /** The new 32-byte unseal key the root key is sealed under. */
  readonly newUnsealKey: Uint8Array
  /** The KEK to seal with on top (required when the state has a KEK layer; adds one otherwise). */
  readonly kek?: Uint8Array | undefined
  readonly clock: Clock
  readonly random: RandomBytes
}

/**
 * Rebuild the root key from at least k custodian shares, check it against the stored check
 * value, and re-seal it under a new unseal key (and KEK); audited as `broker.recover` with the
 * custodians' names. On any failure nothing is changed.
 *
 * @throws BrokerError `ERR_BROKER_RECOVERY` (no recovery set up, too few shares, shares of
 * another broker or split, wrong reconstruction), `ERR_BROKER_KEK`, `ERR_BROKER_UNSEAL` (new
 * unseal key not 32 bytes).
 */
export async function recoverRootKey(
  db: Db,
  options: RecoverOptions,
): Promise<{ broker: string; threshold: number; custodians: string[] }> {
  if (options.newUnsealKey.length !== 32)
    throw new BrokerError('ERR_BROKER_UNSEAL', 'The new unseal key must be 32 bytes')
  if (options.kek !== undefined && options.kek.length !== 32)
    throw new BrokerError('ERR_BROKER_KEK', 'The key-encryption key must be 32 bytes')
  const state = await loadState(db)
  const stored = state.get(RECOVERY)
  if (stored === undefined)
    throw fail('this broker has no recovery shares (start it with --recovery-threshold)')
  const metadata = parseMetadata(stored)
  const broker = brokerIdOf(fromUtf8(required(state, CA_CERT)))
  if (metadata.broker !== broker) throw fail('the recovery metadata names another broker')
  const used = new Map<number, RecoveryShare>()
  for (const s of options.shares) {
    if (s.broker !== broker) throw fail(`the share of ${s.custodian} is for another broker`)
    if (
      s.threshold !== metadata.threshold ||
      s.shares !== metadata.shares ||
      metadata.custodians[s.index - 1] !== s.custodian
    )
      throw fail(`the share of ${s.custodian} does not belong to this broker's recovery set`)
    if (used.has(s.index)) throw fail(`the share of ${s.custodian} is given twice`)
    used.set(s.index, s)
  }
  if (used.size < metadata.threshold) {
    throw new BrokerError(
      'ERR_BROKER_RECOVERY',
      `Recovery needs ${metadata.threshold} shares, ${used.size} given; nothing was changed`,
      { details: { needed: metadata.threshold, given: used.size } },
    )
  }
  if (state.has(ROOT_KEK_LAYER) && options.kek === undefined)
    throw new BrokerError(
      'ERR_BROKER_KEK',
      'This broker state is protected by a key-encryption key; supply it (--kek-file)',
    )
  let rootKey: Uint8Array
  try {
    rootKey = shamirCombine([...used.values()].map((s) => ({ index: s.index, bytes: s.bytes })))
  } catch (cause) {
    if (cause instanceof CryptoError) throw fail('the shares cannot be combined')
    throw cause
  }
  try {
    const check = rootKeyCheck(rootKey)
    const expected = required(state, ROOT_CHECK)
    if (check.length !== expected.length || !timingSafeEqual(check, expected))
      throw fail('the shares do not rebuild the root key (check value mismatch)')
    const custodians = [...used.values()].sort((a, b) => a.index - b.index).map((s) => s.custodian)
    await db.transaction(async (tx) => {
      for (const row of rootKeyRows(rootKey, options.newUnsealKey, options.kek, options.random)) {
        if (row.value === undefined)
          await tx.query('DELETE FROM broker_state WHERE name = $1', [row.name])
        else await upsert(tx, row.name, row.value)
      }
      await appendAudit(tx, options.clock, {
        kind: 'broker.recover',
        data: { custodians, threshold: metadata.threshold, kek: options.kek !== undefined },
      })
    })
    return { broker, threshold: metadata.threshold, custodians }
  } finally {
    rootKey.fill(0)
  }
}

/**
 * {@link recoverRootKey} on the embedded store of a (stopped) broker's data directory.
 *
 * @throws as {@link recoverRootKey}; `ERR_BROKER_STATE` when the directory holds no broker.
 */
export async function recoverBroker(
  options: Omit<RecoverOptions, 'shares'> & {
    readonly dataDir: string
    /** PostgreSQL URL of the store, instead of the PGlite store under `dataDir`. */
    readonly postgres?: string | undefined
    readonly shares: readonly RecoveryShare[]
  },
): Promise<{ broker: string; threshold: number; custodians: string[] }> {
  const store = await openDataDir(options.dataDir, options.postgres)
  try {
    return await recoverRootKey(store.db, options)
  } finally {
    await store.close()
  }
}

/** The recovery metadata of a state, if recovery is set up. */
export async function readRecoveryMetadata(db: Db): Promise<RecoveryMetadata | undefined> {
  const stored = (await loadState(db)).get(RECOVERY)
  return stored === undefined ? undefined : parseMetadata(stored)
}

function checkOptions({ threshold, custodians }: RecoveryOptions): void {
  const bad = (why: string) =>
    new BrokerError('ERR_BROKER_RECOVERY', `Invalid recovery options: ${why}`)
  if (custodians.length < 1 || custodians.length > 255) throw bad('name 1 to 255 custodians')
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > custodians.length)
    throw bad('the threshold must be an integer in 1..<number of custodians>')
  for (const c of custodians)
    if (!CUSTODIAN.test(c))
      throw bad(`custodian name ${JSON.stringify(c)} is not [A-Za-z0-9._@-], 1..64 characters`)
  if (new Set(custodians).size !== custodians.length) throw bad('custodian names repeat')
}

function parseMetadata(value: Uint8Array): RecoveryMetadata {
  try {
    const m = JSON.parse(fromUtf8(value)) as RecoveryMetadata
    if (m.version === 1 && Array.isArray(m.custodians) && Number.isInteger(m.threshold)) return m
  } catch {}
  throw new BrokerError('ERR_BROKER_STATE', 'The recovery metadata in the broker state is invalid')
}

function fail(why: string): BrokerError {
  return new BrokerError(
    'ERR_BROKER_RECOVERY',
    `Cannot recover the root key: ${why}; nothing was changed`,
  )
}
