import type { SnpTcb } from '../claims.ts'
import { AttestError } from '../errors.ts'

/** AMD EPYC generations with SEV-SNP that Subrosa verifies. */
export type SnpProduct = 'Milan' | 'Genoa' | 'Turin'

/** The products, in release order. */
export const SNP_PRODUCTS: readonly SnpProduct[] = ['Milan', 'Genoa', 'Turin']

/** Size of a TCB_VERSION in the report. */
export const TCB_SIZE = 8

/** Byte positions of the TCB_VERSION components (Milan and Genoa: Zen 3 and Zen 4). */
const ZEN34 = { bootloader: 0, tee: 1, snp: 6, microcode: 7 } as const
/** Byte positions of the TCB_VERSION components (Turin: Zen 5). */
const ZEN5 = { fmc: 0, bootloader: 1, tee: 2, snp: 3, microcode: 7 } as const

const CPUID_FAMILY_ZEN34 = 0x19
const CPUID_FAMILY_ZEN5 = 0x1a

/**
 * Decode an 8-byte TCB_VERSION for the product's layout: bootloader, TEE, SNP and microcode
 * security patch levels, plus FMC on Turin. Reserved bytes are not returned.
 *
 * @example decodeSnpTcb(report.tcb.reported, 'Milan') // { bootloader: 3, tee: 0, snp: 8, microcode: 115 }
 * @throws AttestError `ERR_ATTEST_MALFORMED` when `bytes` is not 8 bytes long.
 */
export function decodeSnpTcb(bytes: Uint8Array, product: SnpProduct): SnpTcb {
  if (bytes.length !== TCB_SIZE) {
    throw new AttestError('ERR_ATTEST_MALFORMED', `TCB_VERSION is ${bytes.length} bytes, not 8`)
  }
  const at = (i: number): number => bytes[i] as number
  if (product === 'Turin') {
    return {
      fmc: at(ZEN5.fmc),
      bootloader: at(ZEN5.bootloader),
      tee: at(ZEN5.tee),
      snp: at(ZEN5.snp),
      microcode: at(ZEN5.microcode),
    }
  }
  return {
    bootloader: at(ZEN34.bootloader),
    tee: at(ZEN34.tee),
    snp: at(ZEN34.snp),
    microcode: at(ZEN34.microcode),
  }
}

/**
 * Encode a TCB for the product's layout (reserved bytes zero); the inverse of
 * {@link decodeSnpTcb}. Useful to build KDS queries and expected values.
 *
 * @throws AttestError `ERR_ATTEST_MALFORMED` when a component is not a byte, or `fmc` is given
 * for Milan/Genoa or missing for Turin.
 * @example encodeSnpTcb({ bootloader: 3, tee: 0, snp: 8, microcode: 115 }, 'Milan') // 03 00 00 00 00 00 08 73
 */
export function encodeSnpTcb(tcb: SnpTcb, product: SnpProduct): Uint8Array {
  const out = new Uint8Array(TCB_SIZE)
  const put = (name: string, index: number, value: number | undefined): void => {
    if (value === undefined || !Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new AttestError('ERR_ATTEST_MALFORMED', `TCB component ${name} must be 0..255`)
    }
    out[index] = value
  }
  if (product === 'Turin') {
    put('fmc', ZEN5.fmc, tcb.fmc)
    put('bootloader', ZEN5.bootloader, tcb.bootloader)
    put('tee', ZEN5.tee, tcb.tee)
    put('snp', ZEN5.snp, tcb.snp)
    put('microcode', ZEN5.microcode, tcb.microcode)
    return out
  }
  if (tcb.fmc !== undefined) {
    throw new AttestError('ERR_ATTEST_MALFORMED', `TCB component fmc does not exist on ${product}`)
  }
  put('bootloader', ZEN34.bootloader, tcb.bootloader)
  put('tee', ZEN34.tee, tcb.tee)
  put('snp', ZEN34.snp, tcb.snp)
  put('microcode', ZEN34.microcode, tcb.microcode)
  return out
}

/** The component names of a product's TCB, in TCB_VERSION byte order. */
export function snpTcbComponents(product: SnpProduct): readonly (keyof SnpTcb)[] {
  return product === 'Turin'
    ? ['fmc', 'bootloader', 'tee', 'snp', 'microcode']
    : ['bootloader', 'tee', 'snp', 'microcode']
}

/**
 * True when every component of `tcb` is at least the one in `minimum` (components absent from
 * `minimum` are not compared; a component required by `minimum` but absent from `tcb` fails).
 * SEV-SNP has no TCB status: policies compare minima, component-wise.
 * @example snpTcbAtLeast(claims.reportedTcb, { snp: 8, microcode: 115 })
 */
export function snpTcbAtLeast(tcb: SnpTcb, minimum: Partial<SnpTcb>): boolean {
  for (const key of ['fmc', 'bootloader', 'tee', 'snp', 'microcode'] as const) {
    const need = minimum[key]
    if (need === undefined) continue
    const have = tcb[key]
    if (have === undefined || have < need) return false
  }
  return true
}

/**
 * The product of a CPUID family and model as carried by v3+ reports: family 0x19 models 0x0X
 * Milan, 0x1X and 0xAX Genoa; family 0x1A Turin. Returns undefined for anything else.
 * @example productFromCpuid(0x19, 0x11) // 'Genoa'
 */
export function productFromCpuid(family: number, model: number): SnpProduct | undefined {
  if (family === CPUID_FAMILY_ZEN5) return 'Turin'
  if (family !== CPUID_FAMILY_ZEN34) return undefined
  const generation = model >> 4
  if (generation === 0x0) return 'Milan'
  if (generation === 0x1 || generation === 0xa) return 'Genoa'
  return undefined
}

/**
 * The product of a VCEK/VLEK `productName` extension ("Milan-B0", "Genoa", "Turin-B1"): the
 * part before the stepping. Returns undefined for an unknown name.
 * @example productFromName('Milan-B0') // 'Milan'
 */
export function productFromName(name: string): SnpProduct | undefined {
  const base = name.split('-', 1)[0]
  return SNP_PRODUCTS.find((p) => p === base)
}
