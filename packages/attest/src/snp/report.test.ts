import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toHex } from '@subrosa/core'
import { parseSnpReport } from './report.ts'
import { decodeSnpTcb } from './tcb.ts'
import { haveVectors, readGenoaEvidence, readHexVector, readVector } from './test-vectors.ts'

const malformedAt = (field: string) => ({ code: 'ERR_ATTEST_MALFORMED', details: { field } })

function mutate(bytes: Uint8Array, edit: (b: Uint8Array, v: DataView) => void): Uint8Array {
  const copy = bytes.slice()
  edit(copy, new DataView(copy.buffer))
  return copy
}

describe('parseSnpReport on real reports', () => {
  it('go-sev-guest attestation.bin: v2, Milan VCEK, DEBUG policy', (t) => {
    if (!haveVectors(t, 'go-sev-guest/attestation.bin')) return
    const r = parseSnpReport(readVector('go-sev-guest/attestation.bin'))
    assert.equal(r.version, 2)
    assert.equal(r.policy, 0xb0000n)
    assert.equal(r.debug, true)
    assert.equal(r.migrationAgent, false)
    assert.equal(r.smtAllowed, true)
    assert.equal(r.signingKey, 'vcek')
    assert.equal(r.maskChipId, false)
    assert.equal(r.cpuid, undefined)
    assert.equal(r.product, undefined)
    assert.equal(toHex(r.reportData), `0102030405${'00'.repeat(59)}`)
    assert.match(toHex(r.chipId), /^3ac3fe21/)
    assert.deepEqual(decodeSnpTcb(r.tcb.reported, 'Milan'), {
      bootloader: 2,
      tee: 0,
      snp: 5,
      microcode: 68,
    })
    assert.equal(r.signed.length, 0x2a0)
    assert.equal(r.signature.r.length, 72)
  })

  it('trustee test-report.bin: v2, no debug, reported TCB bl3/tee0/snp8/ucode115', (t) => {
    if (!haveVectors(t, 'trustee/test-report.bin')) return
    const r = parseSnpReport(readVector('trustee/test-report.bin'))
    assert.equal(r.version, 2)
    assert.equal(r.policy, 0x3001fn)
    assert.deepEqual(r.abi, { major: 0, minor: 0x1f })
    assert.equal(r.debug, false)
    assert.equal(r.guestSvn, 4)
    assert.equal(r.smtEnabled, true)
    assert.deepEqual(decodeSnpTcb(r.tcb.reported, 'Milan'), {
      bootloader: 3,
      tee: 0,
      snp: 8,
      microcode: 115,
    })
    assert.deepEqual(r.currentVersion, { major: 1, minor: 0x34, build: 4 })
  })

  it('trustee test-vlek-report.bin: v3, Milan by CPUID, VLEK, VMPL 1, zero CHIP_ID', (t) => {
    if (!haveVectors(t, 'trustee/test-vlek-report.bin')) return
    const r = parseSnpReport(readVector('trustee/test-vlek-report.bin'))
    assert.equal(r.version, 3)
    assert.deepEqual(r.cpuid, { family: 0x19, model: 0x01, stepping: 0x01 })
    assert.equal(r.product, 'Milan')
    assert.equal(r.signingKey, 'vlek')
    assert.equal(r.vmpl, 1)
    assert.equal(r.platformInfo, 0x27n)
    assert.ok(r.chipId.every((x) => x === 0))
    assert.deepEqual(decodeSnpTcb(r.tcb.reported, 'Milan'), {
      bootloader: 4,
      tee: 0,
      snp: 24,
      microcode: 217,
    })
    assert.equal(r.launchMitigationVector, undefined)
  })

  it('virtee-sev report_milan.hex: v2', (t) => {
    if (!haveVectors(t, 'virtee-sev/report_milan.hex')) return
    const r = parseSnpReport(readHexVector('virtee-sev/report_milan.hex'))
    assert.equal(r.version, 2)
    assert.equal(r.policy, 0x30000n)
    assert.deepEqual(decodeSnpTcb(r.tcb.reported, 'Milan'), {
      bootloader: 3,
      tee: 0,
      snp: 8,
      microcode: 115,
    })
  })

  it('trustee evidence-genoa.json: v3, Genoa by CPUID', (t) => {
    if (!haveVectors(t, 'trustee/evidence-genoa.json')) return
    const r = parseSnpReport(readGenoaEvidence().report)
    assert.equal(r.version, 3)
    assert.deepEqual(r.cpuid, { family: 0x19, model: 0x11, stepping: 0x01 })
    assert.equal(r.product, 'Genoa')
    assert.deepEqual(decodeSnpTcb(r.tcb.reported, 'Genoa'), {
      bootloader: 10,
      tee: 0,
      snp: 23,
      microcode: 84,
    })
  })

  it('v5 (synthetic, from the v3 VLEK report): mitigation vectors', (t) => {
    if (!haveVectors(t, 'trustee/test-vlek-report.bin')) return
    const v5 = mutate(readVector('trustee/test-vlek-report.bin'), (_, v) => {
      v.setUint32(0, 5, true)
      v.setBigUint64(0x1f8, 0x3n, true)
      v.setBigUint64(0x200, 0x7n, true)
    })
    const r = parseSnpReport(v5)
    assert.equal(r.version, 5)
    assert.equal(r.launchMitigationVector, 3n)
    assert.equal(r.currentMitigationVector, 7n)
    const v4 = mutate(v5, (b, v) => {
      v.setUint32(0, 4, true)
      b.fill(0, 0x1f8, 0x208)
    })
    assert.equal(parseSnpReport(v4).version, 4)
  })
})

describe('parseSnpReport refuses malformed reports', () => {
  it('wrong sizes and types', (t) => {
    if (!haveVectors(t, 'trustee/test-report.bin')) return
    const good = readVector('trustee/test-report.bin')
    for (const bad of [new Uint8Array(0), good.subarray(0, 1183), new Uint8Array(1185)]) {
      assert.throws(() => parseSnpReport(bad), { code: 'ERR_ATTEST_MALFORMED' })
    }
    const oversized = new Uint8Array(1185)
    oversized.set(good)
    assert.throws(() => parseSnpReport(oversized), { code: 'ERR_ATTEST_MALFORMED' })
    assert.throws(() => parseSnpReport('x' as unknown as Uint8Array), {
      code: 'ERR_ATTEST_MALFORMED',
    })
  })

  it('each structural rule, naming its field', (t) => {
    if (!haveVectors(t, 'trustee/test-report.bin', 'trustee/test-vlek-report.bin')) return
    const v2 = readVector('trustee/test-report.bin')
    const v3 = readVector('trustee/test-vlek-report.bin')
    const cases: [string, Uint8Array, (b: Uint8Array, v: DataView) => void][] = [
      ['VERSION', v2, (_, v) => v.setUint32(0, 1, true)],
      ['VERSION', v2, (_, v) => v.setUint32(0, 6, true)],
      ['POLICY', v2, (b) => (b[0x0a] = 0x01)], // bit 17 cleared
      ['POLICY', v2, (b) => (b[0x0b] = 0x04)], // bit 26 set
      ['POLICY', v2, (b) => (b[0x0f] = 0x80)], // bit 63 set
      ['VMPL', v2, (_, v) => v.setUint32(0x30, 4, true)],
      ['VMPL', v2, (_, v) => v.setUint32(0x30, 0xffffffff, true)],
      ['SIGNATURE_ALGO', v2, (_, v) => v.setUint32(0x34, 2, true)],
      ['PLATFORM_INFO', v2, (b) => (b[0x40] = 0x41)],
      ['SIGNER_INFO', v2, (b) => (b[0x48] = 0x20)], // bit 5
      ['SIGNER_INFO', v2, (b) => (b[0x4b] = 0x80)], // bit 31
      ['SIGNER_INFO', v2, (b) => (b[0x48] = 2 << 2)], // SIGNING_KEY 2
      ['RESERVED', v2, (b) => (b[0x4c] = 1)],
      ['RESERVED', v2, (b) => (b[0x188] = 0x19)], // CPUID bytes must be zero in v2
      ['RESERVED', v3, (b) => (b[0x18b] = 1)],
      ['RESERVED', v3, (b) => (b[0x19f] = 1)],
      ['RESERVED', v2, (b) => (b[0x1eb] = 1)],
      ['RESERVED', v2, (b) => (b[0x1ef] = 1)],
      ['RESERVED', v3, (b) => (b[0x1f8] = 1)], // mitigation vector before v5
      ['RESERVED', v2, (b) => (b[0x29f] = 1)],
      ['SIGNATURE', v2, (b) => (b[0x330] = 1)],
      ['SIGNATURE', v2, (b) => (b[0x49f] = 1)],
      ['CHIP_ID', v2, (b) => (b[0x48] = 0x02)], // MASK_CHIP_KEY with a non-zero CHIP_ID
    ]
    for (const [field, base, edit] of cases) {
      assert.throws(() => parseSnpReport(mutate(base, edit)), malformedAt(field), field)
    }
    // A masked, zero CHIP_ID parses.
    const masked = mutate(v2, (b) => {
      b[0x48] = 0x02
      b.fill(0, 0x1a0, 0x1e0)
    })
    assert.equal(parseSnpReport(masked).maskChipId, true)
    assert.equal(parseSnpReport(mutate(v2, (b) => (b[0x48] = 7 << 2))).signingKey, 'none')
  })

  it('does not alias the input', (t) => {
    if (!haveVectors(t, 'trustee/test-report.bin')) return
    const bytes = readVector('trustee/test-report.bin')
    const r = parseSnpReport(bytes)
    bytes[0x90] = (bytes[0x90] as number) ^ 0xff
    assert.notEqual(r.measurement[0], bytes[0x90])
  })
})
