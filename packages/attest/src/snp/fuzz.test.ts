// Random and mutated inputs to the SNP report parser and the VCEK/VLEK extension decoder:
// each must return or throw AttestError, never anything else, and never hang. Seeded.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AttestError } from '../errors.ts'
import { extensionValue, parseCertificate } from '../x509/index.ts'
import { parseSnpReport } from './report.ts'
import { vekExtensions } from './test-pki.ts'
import { haveVectors, readVector, VECTORS } from './test-vectors.ts'
import { decodeVekExtensions } from './vek-extensions.ts'

/** mulberry32: small, seeded, good enough to spread mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const INTERESTING = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x07, 0x1a, 0x19, 0x7f, 0x80, 0xff]

function mutator(seed: number) {
  const random = prng(seed)
  const below = (n: number) => Math.floor(random() * n)
  const pick = <T>(xs: readonly T[]): T => xs[below(xs.length)] as T
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => below(256))
  const mutate = (base: Uint8Array): Uint8Array => {
    const choice = below(10)
    if (choice === 0) return bytes(below(2 * base.length + 2))
    if (choice === 1) return base.slice(0, below(base.length + 1))
    if (choice === 2) {
      const grown = new Uint8Array(base.length + 1 + below(16))
      grown.set(base)
      return grown
    }
    const out = base.slice()
    for (let n = 1 + below(8); n > 0; n--) {
      const i = below(out.length)
      out[i] = choice < 6 ? (out[i] as number) ^ (1 << below(8)) : pick(INTERESTING)
    }
    return out
  }
  return { below, pick, bytes, mutate }
}

function mustBeAttestError(fn: () => unknown, context: () => string): 'ok' | 'error' {
  try {
    fn()
    return 'ok'
  } catch (e) {
    if (!(e instanceof AttestError)) assert.fail(`${context()}: ${String(e)}`)
    return 'error'
  }
}

/** A structurally valid v2 report (zeros, POLICY bit 17, SIGNATURE_ALGO 1), always available. */
function syntheticReport(version: number): Uint8Array {
  const b = new Uint8Array(0x4a0)
  const v = new DataView(b.buffer)
  v.setUint32(0, version, true)
  v.setBigUint64(0x08, 0x30000n, true)
  v.setUint32(0x34, 1, true)
  return b
}

const ITERATIONS = 100_000
const CERT_ITERATIONS = 5_000

describe('fuzz', () => {
  it(`parseSnpReport: ${ITERATIONS} random and mutated inputs`, (t) => {
    const seeds = [syntheticReport(2), syntheticReport(3), syntheticReport(5)]
    const names = [
      'go-sev-guest/attestation.bin',
      'trustee/test-report.bin',
      'trustee/test-vlek-report.bin',
    ]
    if (haveVectors(t, ...names)) seeds.push(...names.map(readVector))
    else t.diagnostic(`fuzzing synthetic reports only (no vectors at ${VECTORS.pathname})`)
    const m = mutator(0x5eed_5a9)
    const tally = { ok: 0, error: 0 }
    const started = performance.now()
    for (let i = 0; i < ITERATIONS; i++) {
      const input = m.mutate(m.pick(seeds))
      tally[
        mustBeAttestError(
          () => parseSnpReport(input),
          () => `iteration ${i}`,
        )
      ]++
    }
    const ms = performance.now() - started
    t.diagnostic(
      `${ITERATIONS} inputs in ${ms.toFixed(0)} ms: ${tally.ok} parsed, ${tally.error} refused`,
    )
    assert.ok(tally.ok > 0 && tally.error > 0)
  })

  it(`decodeVekExtensions: ${ITERATIONS} random and mutated extension sets`, (t) => {
    const tcb = { bootloader: 3, tee: 0, snp: 8, microcode: 0xd9 }
    const sets = [
      vekExtensions({ productName: 'Milan-B0', tcb, hwId: new Uint8Array(64).fill(7) }),
      vekExtensions({ productName: 'Milan', tcb, cspId: 'CN=csp.example' }),
      vekExtensions({ productName: 'Turin-B0', tcb: { ...tcb, fmc: 1 }, hwId: new Uint8Array(8) }),
    ]
    const m = mutator(0xec_7e45)
    const tally = { ok: 0, error: 0 }
    const started = performance.now()
    for (let i = 0; i < ITERATIONS; i++) {
      // One extension mutated (or dropped, or replaced) per set, so that decoding gets deep.
      const set = m.pick(sets)
      const target = m.below(set.length)
      const map = new Map<string, Uint8Array>()
      for (const [index, e] of set.entries()) {
        const roll = index === target ? m.below(6) : 5
        if (roll === 0) continue // drop the extension
        map.set(e.oid, roll < 4 ? m.mutate(e.value) : roll === 4 ? m.bytes(m.below(80)) : e.value)
      }
      tally[
        mustBeAttestError(
          () => decodeVekExtensions((oid) => map.get(oid)),
          () => `iteration ${i}`,
        )
      ]++
    }
    const ms = performance.now() - started
    t.diagnostic(
      `${ITERATIONS} extension sets in ${ms.toFixed(0)} ms: ${tally.ok} decoded, ${tally.error} refused`,
    )
    assert.ok(tally.ok > 0 && tally.error > 0)
  })

  it(`VCEK/VLEK certificates: ${CERT_ITERATIONS} mutated DER through parseCertificate and the decoder`, (t) => {
    const names = ['trustee/test-vcek.der', 'trustee/test-vlek.der', 'go-sev-guest/vcek.testcer']
    if (!haveVectors(t, ...names)) return
    const seeds = names.map(readVector)
    const m = mutator(0xce_47)
    const tally = { ok: 0, error: 0 }
    const started = performance.now()
    for (let i = 0; i < CERT_ITERATIONS; i++) {
      const input = m.mutate(m.pick(seeds))
      const decode = () => {
        const cert = parseCertificate(input)
        decodeVekExtensions((oid) => extensionValue(cert, oid))
      }
      tally[mustBeAttestError(decode, () => `iteration ${i}`)]++
    }
    const ms = performance.now() - started
    t.diagnostic(
      `${CERT_ITERATIONS} certificates in ${ms.toFixed(0)} ms: ${tally.ok} decoded, ${tally.error} refused`,
    )
  })
})
