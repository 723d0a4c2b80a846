import {
  canonicalJson,
  fromBase64,
  fromUtf8,
  type RandomBytes,
  systemRandom,
  toBase64,
  utf8,
  wipe,
} from '@subrosa/core'
import { CryptoError } from '../errors.ts'
import type { KmsClient } from '../kms.ts'
import { unwrapKey, wrapKey } from '../wrap.ts'

/**
 * PKMT1 key material as parquet-java and Arrow key tools write it (`KeyMaterial`). With internal
 * storage it is the column's or footer's key_metadata; with external storage it is an entry of
 * the `_KEY_MATERIAL_FOR_<file>.json` sidecar (then `internalStorage` is false).
 */
export type KeyMaterial = {
  kind: 'material'
  internalStorage: boolean
  isFooterKey: boolean
  /** Footer keys only. */
  kmsInstanceId?: string
  kmsInstanceUrl?: string
  masterKeyId: string
  /** base64(nonce | ct | tag) */
  wrappedDek: string
  doubleWrapping: boolean
  /** Double wrapping only: base64 of the 16-byte KEK id, and the KMS-wrapped KEK. */
  keyEncryptionKeyId?: string
  wrappedKek?: string
}

/** key_metadata pointing at externally stored material (`internalStorage: false`). */
export type KeyMaterialReference = { kind: 'reference'; keyReference: string }

/**
 * KEKs kept between files so that a writer calls the KMS once per master key, and a reader once
 * per KEK. The caller decides the lifetime (parquet-java: 10 minutes) and calls `clear()`, which
 * wipes the keys.
 */
export type KekCache = {
  readonly write: Map<string, { kek: Uint8Array; kekId: Uint8Array; wrappedKek: string }>
  /** Keyed by master key id and KEK id, so a file cannot borrow another master key's KEK. */
  readonly read: Map<string, Uint8Array>
  clear(): void
}

/** An empty {@link KekCache}. */
export function createKekCache(): KekCache {
  const write: KekCache['write'] = new Map()
  const read: KekCache['read'] = new Map()
  return {
    write,
    read,
    clear() {
      for (const entry of write.values()) wipe(entry.kek)
      for (const kek of read.values()) wipe(kek)
      write.clear()
      read.clear()
    },
  }
}

const KEK_LENGTH = 16
const KEK_ID_LENGTH = 16
const MAX_KEY_MATERIAL = 64 * 1024
export const DEFAULT_KMS_INSTANCE = 'DEFAULT'

function invalid(why: string): never {
  throw new CryptoError('ERR_PARQUET_KEY_MATERIAL', `Invalid PKMT1 key material: ${why}`)
}

function field<T extends 'string' | 'boolean'>(
  json: Record<string, unknown>,
  name: string,
  type: T,
): (T extends 'string' ? string : boolean) | undefined {
  const v = json[name]
  if (v === undefined) return undefined
  if (typeof v !== type) invalid(`${name} is not a ${type}`)
  return v as T extends 'string' ? string : boolean
}

function need<T>(value: T | undefined, name: string): T {
  if (value === undefined) invalid(`${name} is missing`)
  return value
}

function base64Field(json: Record<string, unknown>, name: string): string {
  const v = need(field(json, name, 'string'), name)
  if (fromBase64(v) === undefined) invalid(`${name} is not base64`)
  return v
}

/**
 * Parse PKMT1 key material (a key_metadata value or a sidecar entry). Unknown fields are
 * ignored, as parquet-java and Arrow do; known fields are type-checked.
 *
 * @example parseKeyMaterial(fileCrypto.keyMetadata).masterKeyId
 * @throws CryptoError `ERR_PARQUET_KEY_MATERIAL` when the bytes are not PKMT1 JSON.
 */
export function parseKeyMaterial(bytes: Uint8Array): KeyMaterial | KeyMaterialReference {
  if (bytes.length > MAX_KEY_MATERIAL) invalid('longer than 64 KiB')
  let json: unknown
  try {
    json = JSON.parse(fromUtf8(bytes))
  } catch {
    invalid('not UTF-8 JSON')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) invalid('not an object')
  const o = json as Record<string, unknown>
  if (o.keyMaterialType !== 'PKMT1') invalid('keyMaterialType is not PKMT1')
  const internalStorage = field(o, 'internalStorage', 'boolean')
  if (internalStorage === false) {
    const keyReference = field(o, 'keyReference', 'string')
    if (keyReference !== undefined) return { kind: 'reference', keyReference }
  }
  const isFooterKey = need(field(o, 'isFooterKey', 'boolean'), 'isFooterKey')
  const doubleWrapping = need(field(o, 'doubleWrapping', 'boolean'), 'doubleWrapping')
  const masterKeyId = need(field(o, 'masterKeyID', 'string'), 'masterKeyID')
  const material: KeyMaterial = {
    kind: 'material',
    internalStorage: internalStorage ?? false,
    isFooterKey,
    masterKeyId,
    wrappedDek: base64Field(o, 'wrappedDEK'),
    doubleWrapping,
  }
  if (isFooterKey) {
    material.kmsInstanceId = need(field(o, 'kmsInstanceID', 'string'), 'kmsInstanceID')
    material.kmsInstanceUrl = need(field(o, 'kmsInstanceURL', 'string'), 'kmsInstanceURL')
  }
  if (doubleWrapping) {
    material.keyEncryptionKeyId = base64Field(o, 'keyEncryptionKeyID')
    material.wrappedKek = need(field(o, 'wrappedKEK', 'string'), 'wrappedKEK')
  }
  return material
}

export type CreateKeyMaterialOptions = {
  dek: Uint8Array
  masterKeyId: string
  kms: KmsClient
  /** Footer keys only; parquet-java's default is "DEFAULT". */
  kmsInstanceId?: string
  kmsInstanceUrl?: string
  isFooterKey: boolean
  doubleWrapping?: boolean
  /** false: the material goes to a sidecar entry (`internalStorage: false` in it). Default true. */
  internalStorage?: boolean
  kekCache?: KekCache
  random?: RandomBytes
}

/**
 * Wrap a DEK into PKMT1 key material with internal storage. Double wrapping (default): the DEK
 * is wrapped by a random 128-bit KEK (AES-GCM, AAD = the KEK's random 16-byte id), the KEK by
 * `kms.wrapKey(kek, masterKeyId)`; with `kekCache`, one KEK serves every file of a master key.
 *
 * @example const keyMetadata = await createKeyMaterial({ dek, masterKeyId, kms, isFooterKey: true })
 * @throws CryptoError `ERR_CRYPTO_KEY_LENGTH`; whatever `kms.wrapKey` throws.
 */
export async function createKeyMaterial(options: CreateKeyMaterialOptions): Promise<Uint8Array> {
  const { dek, masterKeyId, kms, isFooterKey, kekCache } = options
  const random = options.random ?? systemRandom
  const doubleWrapping = options.doubleWrapping ?? true
  const json: Record<string, unknown> = {
    keyMaterialType: 'PKMT1',
    internalStorage: options.internalStorage ?? true,
    isFooterKey,
    masterKeyID: masterKeyId,
    doubleWrapping,
  }
  if (isFooterKey) {
    json.kmsInstanceID = options.kmsInstanceId ?? DEFAULT_KMS_INSTANCE
    json.kmsInstanceURL = options.kmsInstanceUrl ?? DEFAULT_KMS_INSTANCE
  }
  if (!doubleWrapping) {
    json.wrappedDEK = await kms.wrapKey(dek, masterKeyId)
    return utf8(canonicalJson(json))
  }
  let entry = kekCache?.write.get(masterKeyId)
  const owned = entry === undefined && kekCache === undefined
  if (entry === undefined) {
    const kek = random(KEK_LENGTH)
    const kekId = random(KEK_ID_LENGTH)
    try {
      entry = { kek, kekId, wrappedKek: await kms.wrapKey(kek, masterKeyId) }
    } catch (error) {
      wipe(kek)
      throw error
    }
    kekCache?.write.set(masterKeyId, entry)
  }
  try {
    json.wrappedDEK = toBase64(wrapKey(entry.kek, dek, entry.kekId, random))
    json.keyEncryptionKeyID = toBase64(entry.kekId)
    json.wrappedKEK = entry.wrappedKek
  } finally {
    if (owned) wipe(entry.kek)
  }
  return utf8(canonicalJson(json))
}

/**
 * Key material kept outside the file (`_KEY_MATERIAL_FOR_<file>.json`, parquet-java's
 * HadoopFSKeyMaterialStore): entries by key reference (`footerKey`, `columnKey<N>`), each the
 * material's JSON text.
 */
export type KeyMaterialStore = ReadonlyMap<string, string>

/** The sidecar file name parquet-java uses for a data file's external key material. */
export function keyMaterialSidecarName(fileName: string): string {
  return `_KEY_MATERIAL_FOR_${fileName}.json`
}

/**
 * Parse a sidecar: a JSON object of string entries, each PKMT1 material.
 *
 * @throws CryptoError `ERR_PARQUET_KEY_MATERIAL`
 */
export function parseKeyMaterialSidecar(text: string): KeyMaterialStore {
  if (text.length > 16 * MAX_KEY_MATERIAL) invalid('the sidecar is larger than 1 MiB')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    invalid('the sidecar is not JSON')
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    invalid('the sidecar is not an object')
  }
  const store = new Map<string, string>()
  for (const [ref, entry] of Object.entries(json)) {
    if (typeof entry !== 'string') invalid(`sidecar entry ${ref} is not a string`)
    if (parseKeyMaterial(utf8(entry)).kind !== 'material')
      invalid(`sidecar entry ${ref} is a reference`)
    store.set(ref, entry)
  }
  return store
}

/** A sidecar's text for a store (entries sorted by reference). */
export function encodeKeyMaterialSidecar(store: KeyMaterialStore): string {
  const sorted = [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return `${JSON.stringify(Object.fromEntries(sorted))}\n`
}

/** key_metadata that points at a sidecar entry. */
export function keyMaterialReference(keyReference: string): Uint8Array {
  return utf8(canonicalJson({ keyMaterialType: 'PKMT1', internalStorage: false, keyReference }))
}

/**
 * Master-key rotation without touching the data file: every sidecar entry's DEK is unwrapped
 * through `from` and wrapped again through `to` (fresh KEKs when double wrapping), keeping the
 * master key ids. parquet-java's KeyToolkit.rotateMasterKeys does the same with one KMS whose
 * master keys changed version; two clients make the old and new keys explicit.
 *
 * @example const rotated = await rotateKeyMaterial(sidecar, { from: oldKms, to: newKms })
 * @throws CryptoError `ERR_PARQUET_KEY_MATERIAL`; what either KMS throws.
 */
export async function rotateKeyMaterial(
  store: KeyMaterialStore,
  options: { from: KmsClient; to: KmsClient; random?: RandomBytes },
): Promise<KeyMaterialStore> {
  const out = new Map<string, string>()
  const kekCache = createKekCache()
  try {
    for (const [ref, entry] of store) {
      const material = parseKeyMaterial(utf8(entry))
      if (material.kind !== 'material') invalid(`sidecar entry ${ref} is a reference`)
      const { dek, masterKeyId } = await unwrapKeyMaterial(utf8(entry), options.from)
      try {
        const rewrapped = await createKeyMaterial({
          dek,
          masterKeyId,
          kms: options.to,
          isFooterKey: material.isFooterKey,
          doubleWrapping: material.doubleWrapping,
          internalStorage: false,
          kekCache,
          ...(material.kmsInstanceId === undefined
            ? {}
            : { kmsInstanceId: material.kmsInstanceId }),
          ...(material.kmsInstanceUrl === undefined
            ? {}
            : { kmsInstanceUrl: material.kmsInstanceUrl }),
          ...(options.random === undefined ? {} : { random: options.random }),
        })
        out.set(ref, fromUtf8(rewrapped))
      } finally {
        wipe(dek)
      }
    }
  } finally {
    kekCache.clear()
  }
  return out
}

/**
 * Recover the DEK from PKMT1 key material (internal storage, or a sidecar entry).
 *
 * @example const { dek, masterKeyId } = await unwrapKeyMaterial(keyMetadata, kms)
 * @throws CryptoError `ERR_PARQUET_KEY_MATERIAL` (not PKMT1, or an external reference the store
 * does not hold), `ERR_CRYPTO_AUTH` / `ERR_CRYPTO_WRAPPED_KEY_MALFORMED` (DEK does not
 * unwrap under the KEK); whatever `kms.unwrapKey` throws.
 */
export async function unwrapKeyMaterial(
  bytes: Uint8Array,
  kms: KmsClient,
  kekCache?: KekCache,
  store?: KeyMaterialStore,
): Promise<{ dek: Uint8Array; masterKeyId: string }> {
  let material = parseKeyMaterial(bytes)
  if (material.kind === 'reference') {
    const ref = material.keyReference
    const entry = store?.get(ref)
    if (entry === undefined) {
      throw new CryptoError(
        'ERR_PARQUET_KEY_MATERIAL',
        `The key material ${ref} is stored outside the file and no sidecar has it`,
        { details: { keyReference: ref } },
      )
    }
    material = parseKeyMaterial(utf8(entry))
    if (material.kind === 'reference') invalid(`sidecar entry ${ref} is itself a reference`)
  }
  const { masterKeyId, wrappedDek, keyEncryptionKeyId, wrappedKek } = material
  if (!material.doubleWrapping) {
    return { dek: await kms.unwrapKey(wrappedDek, masterKeyId), masterKeyId }
  }
  const kekId = fromBase64(keyEncryptionKeyId ?? '') as Uint8Array
  const cacheKey = `${masterKeyId}\0${keyEncryptionKeyId}`
  const cached = kekCache?.read.get(cacheKey)
  const kek = cached ?? (await kms.unwrapKey(wrappedKek ?? '', masterKeyId))
  let keep = cached !== undefined
  try {
    const dek = unwrapKey(kek, fromBase64(wrappedDek) as Uint8Array, kekId)
    if (!keep && kekCache !== undefined) {
      kekCache.read.set(cacheKey, kek)
      keep = true
    }
    return { dek, masterKeyId }
  } finally {
    if (!keep) wipe(kek)
  }
}
