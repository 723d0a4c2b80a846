import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { vekExtensions } from './test-pki.ts'
import { decodeVekExtensions, VEK_OIDS } from './vek-extensions.ts'

const TCB = { bootloader: 3, tee: 0, snp: 8, microcode: 0xd9 }
const HWID = Uint8Array.from({ length: 64 }, (_, i) => i)

function lookup(
  exts: { oid: string; value: Uint8Array }[],
  edits: Record<string, Uint8Array | undefined> = {},
): (oid: string) => Uint8Array | undefined {
  const map = new Map(exts.map((e) => [e.oid, e.value]))
  for (const [oid, value] of Object.entries(edits)) {
    if (value === undefined) map.delete(oid)
    else map.set(oid, value)
  }
  return (oid) => map.get(oid)
}

const bytes = (...b: number[]) => Uint8Array.from(b)
const malformed = { code: 'ERR_ATTEST_MALFORMED' }

describe('decodeVekExtensions', () => {
  it('a VCEK: productName, SPLs (ucode 0xD9 as 02 02 00 D9), raw 64-byte hwID', () => {
    const exts = vekExtensions({ productName: 'Milan-B0', tcb: TCB, hwId: HWID })
    assert.deepEqual(exts.find((e) => e.oid === VEK_OIDS.ucodeSpl)?.value, bytes(2, 2, 0, 0xd9))
    assert.deepEqual(decodeVekExtensions(lookup(exts)), {
      kind: 'vcek',
      structVersion: 0,
      productName: 'Milan-B0',
      product: 'Milan',
      tcb: TCB,
      hwId: HWID,
    })
  })

  it('a VLEK: cspID, no hwID', () => {
    const exts = vekExtensions({
      productName: 'Milan',
      tcb: TCB,
      cspId: 'CN=cc-us-east-2.amazonaws.com',
    })
    const ext = decodeVekExtensions(lookup(exts))
    assert.equal(ext.kind, 'vlek')
    assert.equal(ext.cspId, 'CN=cc-us-east-2.amazonaws.com')
    assert.equal(ext.hwId, undefined)
  })

  it('Turin: fmcSPL required, 8-byte hwID allowed', () => {
    const exts = vekExtensions({
      productName: 'Turin-B0',
      tcb: { ...TCB, fmc: 1 },
      hwId: HWID.subarray(0, 8),
    })
    const ext = decodeVekExtensions(lookup(exts))
    assert.equal(ext.tcb.fmc, 1)
    assert.equal(ext.hwId?.length, 8)
    assert.throws(
      () => decodeVekExtensions(lookup(exts, { [VEK_OIDS.fmcSpl]: undefined })),
      malformed,
    )
  })

  it('hwID wrapped in a DER OCTET STRING is accepted', () => {
    const exts = vekExtensions({ productName: 'Genoa', tcb: TCB, hwId: HWID })
    const wrapped = new Uint8Array(66)
    wrapped.set([0x04, 0x40])
    wrapped.set(HWID, 2)
    assert.deepEqual(decodeVekExtensions(lookup(exts, { [VEK_OIDS.hwId]: wrapped })).hwId, HWID)
  })

  it('refuses what is not DER or not the KDS profile', () => {
    const vcek = vekExtensions({ productName: 'Milan-B0', tcb: TCB, hwId: HWID })
    const refuse = (edits: Record<string, Uint8Array | undefined>, base = vcek) =>
      assert.throws(() => decodeVekExtensions(lookup(base, edits)), malformed)
    refuse({ [VEK_OIDS.snpSpl]: bytes(2, 2, 0, 5) }) // non-minimal INTEGER
    refuse({ [VEK_OIDS.snpSpl]: bytes(2, 1, 0x80) }) // negative
    refuse({ [VEK_OIDS.snpSpl]: bytes(2, 2, 1, 0) }) // 256
    refuse({ [VEK_OIDS.snpSpl]: bytes(2, 1, 5, 0) }) // trailing byte
    refuse({ [VEK_OIDS.snpSpl]: bytes(4, 1, 5) }) // not an INTEGER
    refuse({ [VEK_OIDS.snpSpl]: bytes(2, 0x81, 1, 5) }) // non-minimal length
    refuse({ [VEK_OIDS.blSpl]: undefined })
    refuse({ [VEK_OIDS.ucodeSpl]: undefined })
    refuse({ [VEK_OIDS.structVersion]: undefined })
    refuse({ [VEK_OIDS.productName]: undefined })
    refuse({ [VEK_OIDS.productName]: bytes(0x0c, 5, 0x4d, 0x69, 0x6c, 0x61, 0x6e) }) // UTF8String
    refuse({ [VEK_OIDS.productName]: bytes(0x16, 0) })
    refuse({ [VEK_OIDS.hwId]: undefined }) // neither hwID nor cspID
    refuse({ [VEK_OIDS.hwId]: HWID.subarray(0, 63) })
    refuse({ [VEK_OIDS.hwId]: HWID.subarray(0, 8) }) // 8 bytes outside Turin
    refuse({ [VEK_OIDS.cspId]: bytes(0x16, 1, 0x41) }) // both hwID and cspID
  })
})
