import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseSevCertTable, SEV_CERT_GUIDS } from './sev-cert-table.ts'
import { buildSevCertTable } from './test-trees.ts'

const CERT_A = Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x01])
const CERT_B = Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x02])

describe('parseSevCertTable', () => {
  it('reads entries by GUID up to the all-zero terminator', () => {
    const table = buildSevCertTable([
      { guid: SEV_CERT_GUIDS.vcek, der: CERT_A },
      { guid: '11111111-2222-3333-4444-555555555555', der: CERT_B },
    ])
    assert.equal(table.length, 3 * 24 + CERT_A.length + CERT_B.length)
    const parsed = parseSevCertTable(table)
    assert.deepEqual(
      parsed.map((c) => [c.kind, c.guid]),
      [
        ['vcek', SEV_CERT_GUIDS.vcek],
        ['other', '11111111-2222-3333-4444-555555555555'],
      ],
    )
    assert.deepEqual(parsed[0]?.der, CERT_A)
    assert.deepEqual(parsed[1]?.der, CERT_B)
    assert.deepEqual(parseSevCertTable(new Uint8Array(24)), [])
  })

  it('recognises GUIDs written in the little-endian EFI layout', () => {
    const table = buildSevCertTable([{ guid: SEV_CERT_GUIDS.vlek, der: CERT_A }])
    table.set(table.subarray(0, 4).reverse(), 0)
    table.set(table.subarray(4, 6).reverse(), 4)
    table.set(table.subarray(6, 8).reverse(), 6)
    assert.deepEqual(
      parseSevCertTable(table).map((c) => [c.kind, c.guid]),
      [['vlek', SEV_CERT_GUIDS.vlek]],
    )
  })

  it('refuses a table without terminator, entries outside the blob, and non-DER entries', () => {
    const table = buildSevCertTable([{ guid: SEV_CERT_GUIDS.vcek, der: CERT_A }])
    const code = { code: 'ERR_LAUNCHER_TEE_REPORT' }
    assert.throws(() => parseSevCertTable(table.subarray(0, 30)), code)
    assert.throws(() => parseSevCertTable(new Uint8Array(10)), code)
    const long = Uint8Array.from(table)
    new DataView(long.buffer).setUint32(20, 1000, true)
    assert.throws(() => parseSevCertTable(long), code)
    const inside = Uint8Array.from(table)
    new DataView(inside.buffer).setUint32(16, 8, true)
    assert.throws(() => parseSevCertTable(inside), code)
    const notDer = Uint8Array.from(table)
    notDer[48] = 0x04
    assert.throws(() => parseSevCertTable(notDer), code)
  })
})
