// Fuzzing the parsers with seeded random and mutated inputs: each must return or throw a typed
// AttestError, nothing else, and never hang. Seed and counts are fixed so failures reproduce.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ATTEST_ERRORS, AttestError } from '../errors.ts'
import { parseCertificate, parsePemChain } from '../x509/certificate.ts'
import { parseCrl } from '../x509/crl.ts'
import { testCrl, testKey, testPki } from '../x509/test-ca.ts'
import { haveVectors, vectorBytes, vectorText } from '../x509/test-vectors.ts'
import { collateralFromDcapQvlJson, extractSignedObject } from './collateral.ts'
import { parseQeIdentity } from './qe-identity.ts'
import { parseQuote } from './quote.ts'
import { parseTcbInfo } from './tcb-info.ts'
import { parseDcapCollateral } from './verify-collateral.ts'
import { verifyDcapQuote } from './verify-quote.ts'

const SEED = 0x5eed_d0ca
const TDX_TIME = new Date('2025-07-01T00:00:00Z')

/** xorshift32: small, fast, reproducible. */
function prng(seed: number) {
  let state = seed >>> 0 || 1
  const next = () => {
    state ^= state << 13
    state >>>= 0
    state ^= state >>> 17
    state ^= state << 5
    state >>>= 0
    return state
  }
  return { next, below: (n: number) => next() % n, byte: () => next() & 0xff }
}
type Rng = ReturnType<typeof prng>

const INTERESTING = [0, 1, 0x7f, 0x80, 0x81, 0x82, 0xff]

/** One random mutation: flips, overwrites, truncation, insertion, deletion, length smashing. */
function mutate(input: Uint8Array, rng: Rng, lengthOffsets: readonly number[] = []): Uint8Array {
  const out = new Uint8Array(input)
  const n = Math.max(1, input.length)
  switch (rng.below(7)) {
    case 0:
      for (let i = 1 + rng.below(4); i > 0; i--) {
        const at = rng.below(n)
        out[at] = (out[at] as number) ^ (1 << rng.below(8))
      }
      return out
    case 1:
      out[rng.below(n)] = INTERESTING[rng.below(INTERESTING.length)] as number
      return out
    case 2:
      return out.subarray(0, rng.below(n))
    case 3: {
      const at = rng.below(n)
      const extra = Uint8Array.from({ length: 1 + rng.below(8) }, () => rng.byte())
      return new Uint8Array([...out.subarray(0, at), ...extra, ...out.subarray(at)])
    }
    case 4: {
      const at = rng.below(n)
      return new Uint8Array([...out.subarray(0, at), ...out.subarray(at + 1 + rng.below(8))])
    }
    case 5: {
      const at =
        lengthOffsets.length > 0
          ? (lengthOffsets[rng.below(lengthOffsets.length)] as number)
          : rng.below(n)
      const view = new DataView(out.buffer)
      if (at + 4 <= out.length)
        view.setUint32(at, [0, 1, 0xffff, 0xffffffff, rng.next()][rng.below(5)] as number, true)
      return out
    }
    default:
      return Uint8Array.from({ length: rng.below(700) }, () => rng.byte())
  }
}

function mutateText(text: string, rng: Rng): string {
  const tokens = [
    '{',
    '}',
    '[',
    ']',
    '"',
    ',',
    ':',
    '0',
    '-1',
    '1e999',
    'null',
    'true',
    '"x"',
    '\\',
    ' ',
  ]
  const at = rng.below(text.length + 1)
  switch (rng.below(5)) {
    case 0:
      return text.slice(0, at) + (tokens[rng.below(tokens.length)] as string) + text.slice(at)
    case 1:
      return text.slice(0, at) + text.slice(at + 1 + rng.below(16))
    case 2:
      return text.slice(0, at)
    case 3:
      return text.replace(/\d+/g, (d) =>
        rng.below(20) === 0 ? String(Number(d) + 1 + rng.below(300)) : d,
      )
    default:
      return text.replace(/"[A-Za-z]+"/, `"${String.fromCharCode(65 + rng.below(26))}"`)
  }
}

type Tally = { ok: number; errors: Map<string, number>; count: number; slowestMs: number }

function attempt(tally: Tally, f: () => unknown): void {
  tally.count++
  const start = performance.now()
  try {
    f()
    tally.ok++
  } catch (error) {
    if (!(error instanceof AttestError) || !(error.code in ATTEST_ERRORS)) {
      assert.fail(`untyped error after ${tally.count} inputs (seed ${SEED}): ${String(error)}`)
    }
    tally.errors.set(error.code, (tally.errors.get(error.code) ?? 0) + 1)
  }
  tally.slowestMs = Math.max(tally.slowestMs, performance.now() - start)
}

const newTally = (): Tally => ({ ok: 0, errors: new Map(), count: 0, slowestMs: 0 })

describe('fuzz', () => {
  it('parsers return or throw AttestError on 100,000+ inputs', { timeout: 120_000 }, (t) => {
    const files = [
      'dcap-qvl/sgx_quote',
      'dcap-qvl/tdx_quote',
      'dcap-qvl/tdx_quote_outdated',
      'dcap-qvl/tdx_quote_collateral.json',
      'go-tdx-guest/rootcrl.der',
      'go-tdx-guest/pckcrl',
      'go-tdx-guest/sample_tcbInfo_response',
    ]
    if (!haveVectors(t, ...files)) return
    const rng = prng(SEED)
    const started = performance.now()
    const quotes = files.slice(0, 3).map(vectorBytes)
    const collateral = collateralFromDcapQvlJson(vectorText('dcap-qvl/tdx_quote_collateral.json'))
    const pki = testPki()
    const smallCrl = testCrl({
      issuer: 'Test Intermediate CA',
      signingKey: testKey().privateKey,
      thisUpdate: new Date(0),
      nextUpdate: new Date(1e12),
      revoked: ['01', 'a1b2c3'],
    })
    const crls = [
      vectorBytes('go-tdx-guest/rootcrl.der'),
      smallCrl,
      vectorBytes('go-tdx-guest/pckcrl'),
    ]
    const certs = [pki.leaf, pki.root, vectorBytes('dcap-qvl/TrustedRootCA.der')]
    const tallies = {
      quote: newTally(),
      json: newTally(),
      crl: newTally(),
      cert: newTally(),
      verify: newTally(),
    }
    for (let i = 0; i < 45_000; i++) {
      const base = quotes[i % quotes.length] as Uint8Array
      const q = parseQuote(base)
      const lengths = [
        632,
        436,
        q.qeAuthData.byteOffset - 2,
        q.attestationKey.byteOffset + 66,
        48,
        50,
      ]
      attempt(tallies.quote, () => parseQuote(mutate(base, rng, lengths)))
    }
    const texts = [
      collateral.tcbInfo,
      collateral.qeIdentity,
      vectorText('go-tdx-guest/sample_tcbInfo_response'),
    ]
    for (let i = 0; i < 35_000; i++) {
      const which = i % 3
      const text = mutateText(texts[which] as string, rng)
      attempt(tallies.json, () =>
        which === 0
          ? parseTcbInfo(text)
          : which === 1
            ? parseQeIdentity(text)
            : parseTcbInfo(extractSignedObject(text, 'tcbInfo').raw),
      )
    }
    for (let i = 0; i < 12_000; i++) {
      const base = crls[i % 20 === 0 ? 2 : i % 2] as Uint8Array
      attempt(tallies.crl, () => parseCrl(mutate(base, rng, [1, 2, 4, 5])))
    }
    for (let i = 0; i < 9_000; i++) {
      const base = certs[i % certs.length] as Uint8Array
      const mutated = mutate(base, rng, [1, 2, 4, 5])
      attempt(tallies.cert, () =>
        i % 10 === 0
          ? parsePemChain(Buffer.from(mutated).toString('latin1'))
          : parseCertificate(mutated),
      )
    }
    // The verifier behind the signature: mutate only the unsigned signature data.
    const parsed = parseDcapCollateral(collateral)
    const tdx = quotes[1] as Uint8Array
    const unsigned = parseQuote(tdx).signedBytes.length + 4
    const tail = (bytes: Uint8Array) => {
      const mutated = mutate(bytes.subarray(unsigned), rng, [128, 130, 514 + 134, 520 + 134])
      return new Uint8Array([...bytes.subarray(0, unsigned), ...mutated])
    }
    for (let i = 0; i < 1_000; i++) {
      const mutated = tail(tdx)
      attempt(tallies.verify, () => verifyDcapQuote(mutated, { collateral: parsed, now: TDX_TIME }))
    }
    const total = Object.values(tallies).reduce((n, x) => n + x.count, 0)
    const seconds = (performance.now() - started) / 1000
    t.diagnostic(`${total} inputs in ${seconds.toFixed(1)} s (seed ${SEED.toString(16)})`)
    for (const [name, x] of Object.entries(tallies)) {
      t.diagnostic(
        `${name}: ${x.count} inputs, ${x.ok} parsed, slowest ${x.slowestMs.toFixed(1)} ms, ${JSON.stringify(Object.fromEntries(x.errors))}`,
      )
      assert.ok(x.slowestMs < 1000, `${name}: an input took ${x.slowestMs} ms`)
    }
    assert.ok(total >= 100_000)
  })
})
