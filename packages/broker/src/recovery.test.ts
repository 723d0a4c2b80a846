import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { systemClock, systemRandom, toBase64, toHex } from '@subrosa/core'
import { generateOwnerKey, ownerKeyId } from '@subrosa/protocol'
import { listAudit } from './audit.ts'
import { createMasterKey, unwrapWithMasterKey, wrapWithMasterKey } from './master-keys.ts'
import { applyPolicy } from './policies.ts'
import { readRecoveryMetadata, recoverBroker } from './recovery.ts'
import { encodeRecoveryShare, parseRecoveryShare, type RecoveryShare } from './recovery-share.ts'
import { rekeyBroker } from './rekey.ts'
import { loadSecret } from './secrets.ts'
import { type RunningBroker, startBroker } from './start.ts'
import { testPolicyYaml } from './testing/policy-fixture.ts'
import { createTestDatabase, postgresUnavailable } from './testing/postgres.ts'
import { scanDir } from './testing/scan-dir.ts'

const KEY_ID = 'subrosa:acme/taxi'
const custodians = ['alice', 'bob', 'carol']

/** What a broker holds that recovery must keep readable: a master key's DEK and a secret. */
async function holdings(broker: RunningBroker, wrapped: string) {
  const ctx = broker.context
  return {
    dek: toHex(await unwrapWithMasterKey(ctx, KEY_ID, wrapped)),
    secret: toHex((await loadSecret(ctx, 'acme', 'analytics', 'db-token')).value),
  }
}

describe('root key recovery from custodian shares', () => {
  let root: string
  let dataDir: string
  let sharesDir: string
  const unsealKey = systemRandom(32)
  let shares: RecoveryShare[] = []
  let texts: string[] = []
  let wrapped = ''
  let expected: { dek: string; secret: string }
  let rootKey: Uint8Array

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'subrosa-recovery-'))
    dataDir = join(root, 'data')
    sharesDir = join(root, 'shares')
    const owner = await generateOwnerKey()
    const broker = await startBroker({
      dataDir,
      unsealKey,
      owners: [owner.publicJwk],
      recovery: { threshold: 2, custodians, sharesDir },
    })
    const ownerId = await ownerKeyId(owner.publicJwk)
    await applyPolicy(broker.context, ownerId, testPolicyYaml(ownerId, 'ab'.repeat(48)))
    await createMasterKey(broker.context, ownerId, 'acme', 'taxi')
    wrapped = await wrapWithMasterKey(broker.context, KEY_ID, systemRandom(32))
    expected = await holdings(broker, wrapped)
    rootKey = new Uint8Array(broker.context.keys.rootKey)
    assert.equal(broker.recoveryShares.length, 3)
    await broker.close()
    texts = await Promise.all(broker.recoveryShares.map((s) => readFile(s.path as string, 'utf8')))
    shares = texts.map((t) => parseRecoveryShare(t))
  })
  after(async () => rm(root, { recursive: true, force: true }))

  it('writes one self-describing, private share file per custodian and keeps no share bytes', async () => {
    const files = (await readdir(sharesDir)).sort()
    assert.equal(files.length, 3)
    for (const f of files) assert.equal((await stat(join(sharesDir, f))).mode & 0o777, 0o600)
    assert.deepEqual(
      shares.map((s) => [s.custodian, s.index, s.threshold, s.shares, s.bytes.length]),
      [
        ['alice', 1, 2, 3, 32],
        ['bob', 2, 2, 3, 32],
        ['carol', 3, 2, 3, 32],
      ],
    )
    assert.equal(new Set(shares.map((s) => s.broker)).size, 1)
    const doc = JSON.parse(texts[0] as string)
    assert.equal(doc.format, 'subrosa-recovery-share/v1')
    assert.match(doc.checksum, /^[0-9a-f]{16}$/)
    // The data directory holds neither the root key nor any share, in any encoding.
    const needles = [rootKey, ...shares.map((s) => s.bytes)].flatMap((b) =>
      [b, toHex(b), toBase64(b)].map((x) => Buffer.from(x)),
    )
    assert.deepEqual(await scanDir(dataDir, needles), [])
    // A restart with recovery options does not re-split.
    const again = await startBroker({
      dataDir,
      unsealKey,
      recovery: { threshold: 2, custodians, sharesDir },
    })
    assert.deepEqual(again.recoveryShares, [])
    const metadata = await readRecoveryMetadata(again.context.db)
    assert.deepEqual(metadata?.custodians, custodians)
    assert.equal(metadata?.threshold, 2)
    await again.close()
    await assert.rejects(
      startBroker({ dataDir, unsealKey, recovery: { threshold: 3, custodians, sharesDir } }),
      { code: 'ERR_BROKER_RECOVERY' },
    )
  })

  it('refuses k-1 shares, corrupted, forged and foreign shares, and changes nothing', async () => {
    const newUnsealKey = systemRandom(32)
    const base = { dataDir, newUnsealKey, clock: systemClock, random: systemRandom }
    const [alice, bob] = shares as [RecoveryShare, RecoveryShare]
    await assert.rejects(recoverBroker({ ...base, shares: [alice] }), {
      code: 'ERR_BROKER_RECOVERY',
    })
    await assert.rejects(recoverBroker({ ...base, shares: [alice, alice] }), {
      code: 'ERR_BROKER_RECOVERY',
    })
    // One mistyped character in the share: caught by the checksum.
    const doc = JSON.parse(texts[1] as string)
    doc.share = `${doc.share[0] === 'A' ? 'B' : 'A'}${doc.share.slice(1)}`
    assert.throws(() => parseRecoveryShare(JSON.stringify(doc)), {
      code: 'ERR_BROKER_RECOVERY_SHARE',
    })
    for (const bad of ['', '{', '{"format":"other"}', JSON.stringify({ ...doc, index: 0 })])
      assert.throws(() => parseRecoveryShare(bad), { code: 'ERR_BROKER_RECOVERY_SHARE' })
    // A forged share with a valid checksum: the key check value catches the wrong root key.
    const forged = { ...bob, bytes: systemRandom(32) }
    const reparsed = parseRecoveryShare(encodeRecoveryShare(forged))
    await assert.rejects(recoverBroker({ ...base, shares: [alice, reparsed] }), {
      code: 'ERR_BROKER_RECOVERY',
    })
    // A share relabelled with another custodian's name.
    await assert.rejects(
      recoverBroker({ ...base, shares: [alice, { ...bob, custodian: 'carol' }] }),
      { code: 'ERR_BROKER_RECOVERY' },
    )
    // Shares of another broker.
    const otherDir = join(root, 'other')
    const other = await startBroker({
      dataDir: otherDir,
      unsealKey,
      recovery: { threshold: 2, custodians },
    })
    await other.close()
    const foreign = other.recoveryShares.map((s) => parseRecoveryShare(s.text))
    await assert.rejects(recoverBroker({ ...base, shares: foreign }), {
      code: 'ERR_BROKER_RECOVERY',
    })
    await assert.rejects(
      recoverBroker({ ...base, dataDir: join(root, 'nowhere'), shares: [alice, bob] }),
      { code: 'ERR_BROKER_STATE' },
    )
    // Nothing changed: the old unseal key still opens the broker, the new one does not.
    await assert.rejects(startBroker({ dataDir, unsealKey: newUnsealKey }), {
      code: 'ERR_BROKER_UNSEAL',
    })
    const still = await startBroker({ dataDir, unsealKey })
    assert.deepEqual(await holdings(still, wrapped), expected)
    await still.close()
  })

  it('rebuilds the root key from 2 of 3 shares after the unseal key is lost', async () => {
    const newUnsealKey = systemRandom(32)
    const result = await recoverBroker({
      dataDir,
      shares: [shares[2] as RecoveryShare, shares[0] as RecoveryShare],
      newUnsealKey,
      clock: systemClock,
      random: systemRandom,
    })
    assert.deepEqual(result.custodians, ['alice', 'carol'])
    await assert.rejects(startBroker({ dataDir, unsealKey }), { code: 'ERR_BROKER_UNSEAL' })
    const recovered = await startBroker({ dataDir, unsealKey: newUnsealKey })
    assert.deepEqual(await holdings(recovered, wrapped), expected)
    const audit = await listAudit(recovered.context.db, {})
    const entry = audit.find((e) => e.kind === 'broker.recover')
    assert.deepEqual(entry?.data, { custodians: ['alice', 'carol'], threshold: 2, kek: false })
    const log = JSON.stringify(audit)
    for (const s of shares) assert.ok(!log.includes(toBase64(s.bytes)))
    assert.ok(audit.some((e) => e.kind === 'broker.recovery-shares'))
    await recovered.close()
  })
})

describe('operator key-encryption key', () => {
  it('needs both the unseal key and the KEK, and recovery keeps the KEK layer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-kek-'))
    const unsealKey = systemRandom(32)
    const kek = systemRandom(32)
    try {
      const first = await startBroker({
        dataDir: dir,
        unsealKey,
        kek,
        recovery: { threshold: 1, custodians: ['ops'] },
      })
      const kid = first.jwks.keys[0]?.kid
      const share = parseRecoveryShare((first.recoveryShares[0] as { text: string }).text)
      await first.close()
      await assert.rejects(startBroker({ dataDir: dir, unsealKey }), { code: 'ERR_BROKER_KEK' })
      await assert.rejects(startBroker({ dataDir: dir, unsealKey, kek: systemRandom(32) }), {
        code: 'ERR_BROKER_KEK',
      })
      await assert.rejects(startBroker({ dataDir: dir, unsealKey, kek: systemRandom(16) }), {
        code: 'ERR_BROKER_KEK',
      })
      await assert.rejects(startBroker({ dataDir: dir, unsealKey: systemRandom(32), kek }), {
        code: 'ERR_BROKER_UNSEAL',
      })
      const second = await startBroker({ dataDir: dir, unsealKey, kek })
      assert.equal(second.jwks.keys[0]?.kid, kid)
      await second.close()

      const newUnsealKey = systemRandom(32)
      const base = { dataDir: dir, shares: [share], newUnsealKey }
      const runtime = { clock: systemClock, random: systemRandom }
      await assert.rejects(recoverBroker({ ...base, ...runtime }), { code: 'ERR_BROKER_KEK' })
      const newKek = systemRandom(32)
      await recoverBroker({ ...base, ...runtime, kek: newKek })
      await assert.rejects(startBroker({ dataDir: dir, unsealKey: newUnsealKey, kek }), {
        code: 'ERR_BROKER_KEK',
      })
      await assert.rejects(startBroker({ dataDir: dir, unsealKey: newUnsealKey }), {
        code: 'ERR_BROKER_KEK',
      })
      const third = await startBroker({ dataDir: dir, unsealKey: newUnsealKey, kek: newKek })
      assert.equal(third.jwks.keys[0]?.kid, kid)
      await third.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('refuses a KEK for a state without one; rekey rotates the unseal key and adds a KEK', async () => {
    const unsealKey = systemRandom(32)
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-kek-'))
    const runtime = { clock: systemClock, random: systemRandom }
    try {
      const first = await startBroker({ dataDir: dir, unsealKey })
      const kid = first.jwks.keys[0]?.kid
      await first.close()
      await assert.rejects(startBroker({ dataDir: dir, unsealKey, kek: systemRandom(32) }), {
        code: 'ERR_BROKER_KEK',
      })
      const newUnsealKey = systemRandom(32)
      const newKek = systemRandom(32)
      await assert.rejects(
        rekeyBroker({ dataDir: dir, unsealKey: systemRandom(32), newUnsealKey, ...runtime }),
        { code: 'ERR_BROKER_UNSEAL' },
      )
      await assert.rejects(
        rekeyBroker({ dataDir: dir, unsealKey, newUnsealKey: systemRandom(8), ...runtime }),
        { code: 'ERR_BROKER_UNSEAL' },
      )
      assert.deepEqual(
        await rekeyBroker({ dataDir: dir, unsealKey, newUnsealKey, newKek, ...runtime }),
        { kek: true, kekChanged: true },
      )
      await assert.rejects(startBroker({ dataDir: dir, unsealKey, kek: newKek }), {
        code: 'ERR_BROKER_UNSEAL',
      })
      await assert.rejects(startBroker({ dataDir: dir, unsealKey: newUnsealKey }), {
        code: 'ERR_BROKER_KEK',
      })
      const second = await startBroker({ dataDir: dir, unsealKey: newUnsealKey, kek: newKek })
      assert.equal(second.jwks.keys[0]?.kid, kid)
      const audit = await listAudit(second.context.db, {})
      assert.deepEqual(audit.find((e) => e.kind === 'broker.rekey')?.data, {
        kek: true,
        kekChanged: true,
      })
      await second.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('recovery of a broker on PostgreSQL', () => {
  it('rebuilds the root key in the shared database from k shares; k-1 fail', async (t) => {
    const missing = await postgresUnavailable()
    if (missing !== false) return t.skip(missing)
    const db = await createTestDatabase()
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-recover-pg-'))
    try {
      const first = await startBroker({
        dataDir: join(dir, 'a'),
        postgres: db.url,
        unsealKey: systemRandom(32),
        recovery: { threshold: 2, custodians },
      })
      await createMasterKey(first.context, 'owner', 'acme', 'taxi')
      const dek = systemRandom(32)
      const wrapped = await wrapWithMasterKey(first.context, KEY_ID, dek)
      const shares = first.recoveryShares.map((s) => parseRecoveryShare(s.text))
      await first.close()
      const newUnsealKey = systemRandom(32)
      const base = {
        dataDir: join(dir, 'b'),
        postgres: db.url,
        newUnsealKey,
        clock: systemClock,
        random: systemRandom,
      }
      await assert.rejects(recoverBroker({ ...base, shares: shares.slice(0, 1) }), {
        code: 'ERR_BROKER_RECOVERY',
      })
      await recoverBroker({ ...base, shares: [shares[0], shares[2]] as RecoveryShare[] })
      const second = await startBroker({
        dataDir: join(dir, 'b'),
        postgres: db.url,
        unsealKey: newUnsealKey,
      })
      try {
        assert.equal(toHex(await unwrapWithMasterKey(second.context, KEY_ID, wrapped)), toHex(dek))
      } finally {
        await second.close()
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
      await db.drop()
    }
  })
})
