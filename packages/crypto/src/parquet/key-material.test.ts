import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { fromBase64, fromUtf8, toBase64, utf8 } from '@subrosa/core'
import { createInMemoryKms, type KmsClient } from '../kms.ts'
import { localUnwrap, unwrapKey } from '../wrap.ts'
import {
  createKekCache,
  createKeyMaterial,
  parseKeyMaterial,
  parseKeyMaterialSidecar,
  unwrapKeyMaterial,
} from './key-material.ts'

const MASTER_ID = 'subrosa:acme/taxi'
const master = new Uint8Array(randomBytes(32))

function countingKms(inner: KmsClient) {
  const calls = { wrap: 0, unwrap: 0 }
  const kms: KmsClient = {
    wrapKey: (k, id) => {
      calls.wrap++
      return inner.wrapKey(k, id)
    },
    unwrapKey: (w, id) => {
      calls.unwrap++
      return inner.unwrapKey(w, id)
    },
  }
  return { kms, calls }
}

const json = (bytes: Uint8Array) => JSON.parse(fromUtf8(bytes)) as Record<string, unknown>

describe('PKMT1 key material', () => {
  const base = createInMemoryKms({ [MASTER_ID]: master })
  const dek = new Uint8Array(randomBytes(32))

  it('writes the fields parquet-java key tools write, with double wrapping by default', async () => {
    const material = json(
      await createKeyMaterial({
        dek,
        masterKeyId: MASTER_ID,
        kms: base,
        kmsInstanceId: 'subrosa',
        kmsInstanceUrl: 'https://broker:8443',
        isFooterKey: true,
      }),
    )
    assert.deepEqual(Object.keys(material).sort(), [
      'doubleWrapping',
      'internalStorage',
      'isFooterKey',
      'keyEncryptionKeyID',
      'keyMaterialType',
      'kmsInstanceID',
      'kmsInstanceURL',
      'masterKeyID',
      'wrappedDEK',
      'wrappedKEK',
    ])
    assert.equal(material.keyMaterialType, 'PKMT1')
    assert.equal(material.internalStorage, true)
    assert.equal(material.doubleWrapping, true)
    assert.equal(material.kmsInstanceID, 'subrosa')
    // Independently: KEK = local unwrap under the master key; DEK = GCM(KEK, AAD = KEK id).
    const kekId = fromBase64(String(material.keyEncryptionKeyID)) as Uint8Array
    assert.equal(kekId.length, 16)
    const kek = localUnwrap(master, String(material.wrappedKEK), MASTER_ID)
    assert.equal(kek.length, 16)
    assert.deepEqual(
      unwrapKey(kek, fromBase64(String(material.wrappedDEK)) as Uint8Array, kekId),
      dek,
    )
  })

  it('round-trips footer and column keys, double and single wrapping', async () => {
    for (const isFooterKey of [true, false]) {
      for (const doubleWrapping of [true, false]) {
        const bytes = await createKeyMaterial({
          dek,
          masterKeyId: MASTER_ID,
          kms: base,
          isFooterKey,
          doubleWrapping,
        })
        const parsed = parseKeyMaterial(bytes)
        assert.equal(parsed.kind, 'material')
        if (parsed.kind !== 'material') continue
        assert.equal(parsed.isFooterKey, isFooterKey)
        assert.equal(parsed.doubleWrapping, doubleWrapping)
        assert.equal(parsed.kmsInstanceId, isFooterKey ? 'DEFAULT' : undefined)
        assert.equal(parsed.wrappedKek === undefined, !doubleWrapping)
        const out = await unwrapKeyMaterial(bytes, base)
        assert.deepEqual(out, { dek, masterKeyId: MASTER_ID })
      }
    }
  })

  it('calls the KMS once per master key with a KEK cache, and wipes on clear()', async () => {
    const { kms, calls } = countingKms(base)
    const cache = createKekCache()
    const a = json(
      await createKeyMaterial({
        dek,
        masterKeyId: MASTER_ID,
        kms,
        isFooterKey: true,
        kekCache: cache,
      }),
    )
    const b = json(
      await createKeyMaterial({
        dek,
        masterKeyId: MASTER_ID,
        kms,
        isFooterKey: true,
        kekCache: cache,
      }),
    )
    assert.equal(calls.wrap, 1)
    assert.equal(a.keyEncryptionKeyID, b.keyEncryptionKeyID)
    assert.notEqual(a.wrappedDEK, b.wrappedDEK)
    const bytes = utf8(JSON.stringify(a))
    await unwrapKeyMaterial(bytes, kms, cache)
    await unwrapKeyMaterial(bytes, kms, cache)
    assert.equal(calls.unwrap, 1)
    const keks = [...cache.read.values(), ...[...cache.write.values()].map((e) => e.kek)]
    cache.clear()
    for (const kek of keks) assert.deepEqual(kek, new Uint8Array(kek.length))
    assert.equal(cache.read.size + cache.write.size, 0)
  })

  it('does not lend a cached KEK to material that names another master key', async () => {
    const other = new Uint8Array(randomBytes(32))
    const kms = createInMemoryKms({ [MASTER_ID]: master, other })
    const cache = createKekCache()
    const bytes = await createKeyMaterial({ dek, masterKeyId: MASTER_ID, kms, isFooterKey: false })
    await unwrapKeyMaterial(bytes, kms, cache)
    const forged = utf8(JSON.stringify({ ...json(bytes), masterKeyID: 'other' }))
    await assert.rejects(unwrapKeyMaterial(forged, kms, cache), { code: 'ERR_CRYPTO_AUTH' })
  })

  it('wipes a KEK it does not cache', async () => {
    const drawn: Uint8Array[] = []
    const random = (n: number) => {
      const b = new Uint8Array(randomBytes(n))
      drawn.push(b)
      return b
    }
    await createKeyMaterial({ dek, masterKeyId: MASTER_ID, kms: base, isFooterKey: true, random })
    assert.deepEqual(drawn[0], new Uint8Array(16)) // the KEK, drawn first
    assert.notDeepEqual(drawn[1], new Uint8Array(16)) // its id is public
  })

  it('parses strictly and refuses what is not PKMT1', () => {
    const good = {
      keyMaterialType: 'PKMT1',
      internalStorage: true,
      isFooterKey: false,
      masterKeyID: 'k',
      wrappedDEK: toBase64(new Uint8Array(44)),
      doubleWrapping: false,
    }
    assert.equal(parseKeyMaterial(utf8(JSON.stringify(good))).kind, 'material')
    const bad: unknown[] = [
      'kf',
      '[]',
      'null',
      { ...good, keyMaterialType: 'PKMT2' },
      { ...good, isFooterKey: 'false' },
      { ...good, masterKeyID: undefined },
      { ...good, wrappedDEK: 'not base64!' },
      { ...good, doubleWrapping: true },
      { ...good, doubleWrapping: true, keyEncryptionKeyID: 'AAAA', wrappedKEK: 7 },
      { ...good, isFooterKey: true },
      { ...good, internalStorage: 'yes' },
      { ...good, internalStorage: false, keyReference: 3 },
      { ...good, wrappedDEK: 'A'.repeat(70000) },
    ]
    for (const value of bad) {
      const text = typeof value === 'string' ? value : JSON.stringify(value)
      assert.throws(
        () => parseKeyMaterial(utf8(text)),
        { code: 'ERR_PARQUET_KEY_MATERIAL' },
        text.slice(0, 80),
      )
    }
    assert.throws(() => parseKeyMaterial(new Uint8Array([0xff, 0xfe])), {
      code: 'ERR_PARQUET_KEY_MATERIAL',
    })
  })

  it('resolves external key material through the sidecar, and only through it', async () => {
    const reference = utf8(
      '{"keyMaterialType":"PKMT1","internalStorage":false,"keyReference":"footerKey"}',
    )
    assert.deepEqual(parseKeyMaterial(reference), { kind: 'reference', keyReference: 'footerKey' })
    await assert.rejects(unwrapKeyMaterial(reference, base), { code: 'ERR_PARQUET_KEY_MATERIAL' })
    const entry = await createKeyMaterial({
      dek,
      masterKeyId: MASTER_ID,
      kms: base,
      isFooterKey: true,
      internalStorage: false,
    })
    const store = new Map([['footerKey', new TextDecoder().decode(entry)]])
    assert.deepEqual((await unwrapKeyMaterial(reference, base, undefined, store)).dek, dek)
    await assert.rejects(unwrapKeyMaterial(reference, base, undefined, new Map()), {
      code: 'ERR_PARQUET_KEY_MATERIAL',
    })
    const loop = new Map([['footerKey', new TextDecoder().decode(reference)]])
    await assert.rejects(unwrapKeyMaterial(reference, base, undefined, loop), {
      code: 'ERR_PARQUET_KEY_MATERIAL',
    })
  })

  it('refuses malformed sidecars with ERR_PARQUET_KEY_MATERIAL', () => {
    const material = '{"keyMaterialType":"PKMT1","internalStorage":false,"keyReference":"x"}'
    for (const text of [
      'not json',
      '[]',
      '{"footerKey": 7}',
      '{"footerKey": "{}"}',
      JSON.stringify({ footerKey: material }),
    ]) {
      assert.throws(() => parseKeyMaterialSidecar(text), { code: 'ERR_PARQUET_KEY_MATERIAL' }, text)
    }
  })

  it('fails typed on tampered wrapped keys', async () => {
    const material = json(
      await createKeyMaterial({ dek, masterKeyId: MASTER_ID, kms: base, isFooterKey: false }),
    )
    const raw = fromBase64(String(material.wrappedDEK)) as Uint8Array
    raw[20] = (raw[20] as number) ^ 1
    const tampered = utf8(JSON.stringify({ ...material, wrappedDEK: toBase64(raw) }))
    await assert.rejects(unwrapKeyMaterial(tampered, base), { code: 'ERR_CRYPTO_AUTH' })
    const short = utf8(JSON.stringify({ ...material, wrappedDEK: toBase64(new Uint8Array(8)) }))
    await assert.rejects(unwrapKeyMaterial(short, base), {
      code: 'ERR_CRYPTO_WRAPPED_KEY_MALFORMED',
    })
    const unknown = utf8(JSON.stringify({ ...material, masterKeyID: 'nope' }))
    await assert.rejects(unwrapKeyMaterial(unknown, base), {
      code: 'ERR_CRYPTO_UNKNOWN_MASTER_KEY',
    })
  })
})
