import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  decodeSnpTcb,
  encodeSnpTcb,
  productFromCpuid,
  productFromName,
  snpTcbAtLeast,
  snpTcbComponents,
} from './tcb.ts'

const bytes = (...b: number[]) => Uint8Array.from(b)

describe('TCB_VERSION per product', () => {
  it('Milan and Genoa: bl, tee, snp at byte 6, microcode at byte 7', () => {
    const raw = bytes(0x03, 0x00, 0, 0, 0, 0, 0x08, 0x73)
    const want = { bootloader: 3, tee: 0, snp: 8, microcode: 0x73 }
    assert.deepEqual(decodeSnpTcb(raw, 'Milan'), want)
    assert.deepEqual(decodeSnpTcb(raw, 'Genoa'), want)
    assert.deepEqual(encodeSnpTcb(want, 'Genoa'), raw)
  })

  it('Turin: fmc, bl, tee, snp in bytes 0..3, microcode at byte 7', () => {
    const raw = bytes(0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0xd9)
    const want = { fmc: 1, bootloader: 2, tee: 3, snp: 4, microcode: 0xd9 }
    assert.deepEqual(decodeSnpTcb(raw, 'Turin'), want)
    assert.deepEqual(encodeSnpTcb(want, 'Turin'), raw)
    assert.deepEqual(snpTcbComponents('Turin'), ['fmc', 'bootloader', 'tee', 'snp', 'microcode'])
  })

  it('refuses bad lengths and components', () => {
    assert.throws(() => decodeSnpTcb(new Uint8Array(7), 'Milan'), { code: 'ERR_ATTEST_MALFORMED' })
    const tcb = { bootloader: 1, tee: 0, snp: 1, microcode: 1 }
    assert.throws(() => encodeSnpTcb(tcb, 'Turin'), { code: 'ERR_ATTEST_MALFORMED' })
    assert.throws(() => encodeSnpTcb({ ...tcb, fmc: 1 }, 'Milan'), { code: 'ERR_ATTEST_MALFORMED' })
    assert.throws(() => encodeSnpTcb({ ...tcb, snp: 256 }, 'Milan'), {
      code: 'ERR_ATTEST_MALFORMED',
    })
  })

  it('compares minima component-wise', () => {
    const tcb = { bootloader: 3, tee: 0, snp: 8, microcode: 115 }
    assert.equal(snpTcbAtLeast(tcb, { snp: 8, microcode: 115 }), true)
    assert.equal(snpTcbAtLeast(tcb, { snp: 9 }), false)
    assert.equal(snpTcbAtLeast(tcb, { fmc: 0 }), false)
    assert.equal(snpTcbAtLeast(tcb, {}), true)
  })

  it('product from CPUID and from productName', () => {
    assert.equal(productFromCpuid(0x19, 0x01), 'Milan')
    assert.equal(productFromCpuid(0x19, 0x11), 'Genoa')
    assert.equal(productFromCpuid(0x19, 0xa0), 'Genoa')
    assert.equal(productFromCpuid(0x1a, 0x02), 'Turin')
    assert.equal(productFromCpuid(0x19, 0x61), undefined)
    assert.equal(productFromCpuid(0, 0), undefined)
    assert.equal(productFromName('Milan-B0'), 'Milan')
    assert.equal(productFromName('Genoa'), 'Genoa')
    assert.equal(productFromName('Turin-B1'), 'Turin')
    assert.equal(productFromName('Rome'), undefined)
    assert.equal(productFromName('MilanX'), undefined)
  })
})
