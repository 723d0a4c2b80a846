import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AttestError } from '../errors.ts'
import {
  EAR_ISSUER,
  earPayload,
  MAA_ISSUER,
  maaAzureVmPayload,
  maaSgxPayload,
  maaTdxPayload,
  makeTestPki,
  NOW,
  signToken,
} from './test-tokens.ts'
import {
  mapClaims,
  type TrustedIssuer,
  verifyAttestationToken,
} from './verify-attestation-token.ts'

const TOKENS = 100_000
const PAYLOADS = 20_000
const RESIGNED = 2_000
const BATCH = 64

/** mulberry32: a small seeded PRNG, so every failure reproduces. */
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

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \0é{}"'
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url')

function fuzzer(seed: number) {
  const rand = prng(seed)
  const int = (n: number) => Math.floor(rand() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T
  const chars = (n: number) => Array.from({ length: n }, () => pick([...ALPHABET])).join('')

  const value = (depth: number): unknown => {
    switch (int(depth > 3 ? 6 : 9)) {
      case 0:
        return null
      case 1:
        return rand() < 0.5
      case 2:
        return pick([0, -1, 1e308, 2 ** 53, 1.5, Number.MAX_SAFE_INTEGER, 0xffffffff + 1])
      case 3:
        return chars(int(12))
      case 4:
        return pick(['RS256', 'none', 'HS256', 'ES256', 'sgx', 'azurevm', 'sevsnpvm', 'tdxvm'])
      case 5:
        return 'ab'.repeat(pick([16, 32, 48, 64]))
      case 6:
        return Array.from({ length: int(4) }, () => value(depth + 1))
      default: {
        const keys = ['__proto__', 'constructor', 'alg', 'kid', 'x5c', 'crit', 'b64', 'iss', 'exp']
        return Object.fromEntries(
          Array.from({ length: int(5) }, () => [pick(keys), value(depth + 1)]),
        )
      }
    }
  }

  /** Change one claim of a payload (recursively into nested objects) to a random value. */
  const mutatePayload = (payload: Record<string, unknown>): Record<string, unknown> => {
    const copy: Record<string, unknown> = structuredClone(payload)
    let target = copy
    for (let hops = int(3); hops > 0; hops--) {
      const nested = Object.values(target).filter(
        (v): v is Record<string, unknown> =>
          typeof v === 'object' && v !== null && !Array.isArray(v),
      )
      if (nested.length === 0) break
      target = pick(nested)
    }
    const keys = Object.keys(target)
    const key = keys.length > 0 && rand() < 0.9 ? pick(keys) : chars(6)
    if (rand() < 0.3) delete target[key]
    else target[key] = value(0)
    return copy
  }

  const mutateToken = (token: string, corpus: readonly string[]): string => {
    const parts = token.split('.')
    switch (int(10)) {
      case 0: {
        const i = int(token.length)
        return token.slice(0, i) + pick([...ALPHABET]) + token.slice(i + 1)
      }
      case 1: {
        const i = int(token.length)
        return token.slice(0, i) + token.slice(i + 1 + int(20))
      }
      case 2:
        return token.slice(0, int(token.length))
      case 3: {
        const i = int(token.length)
        return token.slice(0, i) + token.slice(int(token.length)) + token.slice(i)
      }
      case 4:
        parts[int(3)] = b64(value(0))
        return parts.join('.')
      case 5:
        parts[0] = b64({ ...(value(1) as object), alg: pick(['RS256', 'ES256', 'none', 'HS256']) })
        return parts.join('.')
      case 6: {
        const other = pick(corpus).split('.')
        parts[int(3)] = other[int(3)] ?? ''
        return parts.join('.')
      }
      case 7:
        return Array.from({ length: int(5) }, () => chars(int(40))).join('.')
      case 8: {
        let payload: Record<string, unknown> = {}
        try {
          const parsed: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString())
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
            payload = parsed as Record<string, unknown>
          }
        } catch {}
        return `${parts[0]}.${b64(mutatePayload(payload))}.${parts[2]}`
      }
      default:
        return mutateToken(mutateToken(token, corpus), corpus)
    }
  }
  return { int, pick, mutatePayload, mutateToken }
}

/** `undefined` when `run` resolves or throws an AttestError (its code is counted), else why. */
async function outcome(
  run: () => Promise<unknown>,
  codes?: Map<string, number>,
): Promise<string | undefined> {
  try {
    await run()
    codes?.set('accepted', (codes.get('accepted') ?? 0) + 1)
    return undefined
  } catch (error) {
    if (!(error instanceof AttestError)) return String(error)
    codes?.set(error.code, (codes.get(error.code) ?? 0) + 1)
    return undefined
  }
}

describe('attestation token fuzzing', async () => {
  const pki = await makeTestPki()
  const issuers: TrustedIssuer[] = [
    { issuer: MAA_ISSUER, kind: 'maa', jwks: { keys: [pki.maaJwk] }, x5cRoots: [pki.rootPem] },
    { issuer: EAR_ISSUER, kind: 'ear', jwks: { keys: [pki.earJwk] } },
  ]
  const options = { issuers, now: NOW }
  const rs = { alg: 'RS256', kid: 'maa-1' }
  const ear = earPayload({
    tee: 'sim',
    insecure: true,
    debug: false,
    measurement: 'ab'.repeat(48),
    svn: 1,
    reportData: '00'.repeat(64),
    platformKey: 'k',
  })
  const corpus = [
    await signToken(maaSgxPayload(), pki.maa.privateKey, rs),
    await signToken(maaAzureVmPayload(), pki.maa.privateKey, rs),
    await signToken(maaTdxPayload(), pki.maa.privateKey, rs),
    await signToken(maaSgxPayload(), pki.leaf.privateKey, { alg: 'RS256', x5c: pki.chain }),
    await signToken(ear, pki.ear.privateKey, { alg: 'ES256', kid: 'ear-1' }),
  ]

  it(`throws only AttestError for ${TOKENS} random and mutated tokens`, {
    timeout: 120_000,
  }, async () => {
    const f = fuzzer(0x5eed)
    const failures: string[] = []
    const codes = new Map<string, number>()
    // Batches keep WebCrypto's thread pool busy; the candidates are still generated in order.
    for (let i = 0; i < TOKENS; i += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, TOKENS - i) }, () =>
        f.mutateToken(f.pick(corpus), corpus),
      )
      const results = await Promise.all(
        batch.map((candidate) => outcome(() => verifyAttestationToken(candidate, options), codes)),
      )
      results.forEach((failure, j) => {
        if (failure !== undefined && failures.length < 5) failures.push(`#${i + j}: ${failure}`)
      })
    }
    assert.deepEqual(failures, [])
    // The mutations reach past decoding: signatures, keys, chains and claims are all exercised.
    for (const code of ['ERR_ATTEST_TOKEN', 'ERR_ATTEST_SIGNATURE', 'ERR_ATTEST_UNTRUSTED_KEY']) {
      assert.ok((codes.get(code) ?? 0) > 100, `${code}: ${codes.get(code)}`)
    }
  })

  it(`throws only AttestError when mapping ${PAYLOADS} mutated claim sets`, () => {
    const f = fuzzer(0xc1a1)
    const payloads = [maaSgxPayload(), maaAzureVmPayload(), maaTdxPayload(), ear]
    const source = { kind: 'token', issuer: 'x', raw: {} } as const
    for (let i = 0; i < PAYLOADS; i++) {
      let payload = f.pick(payloads)
      for (let n = 1 + f.int(3); n > 0; n--) payload = f.mutatePayload(payload)
      for (const kind of ['maa', 'ear', 'generic'] as const) {
        try {
          mapClaims(kind, payload, source)
        } catch (error) {
          assert.ok(error instanceof AttestError, `#${i} ${kind}: ${String(error)}`)
        }
      }
    }
  })

  it(`throws only AttestError for ${RESIGNED} validly signed tokens with mutated claims`, async () => {
    const f = fuzzer(0x516e)
    const payloads = [maaSgxPayload(), maaAzureVmPayload(), maaTdxPayload()]
    for (let i = 0; i < RESIGNED; i++) {
      const signed =
        i % 2 === 0
          ? await signToken(f.mutatePayload(ear), pki.ear.privateKey, {
              alg: 'ES256',
              kid: 'ear-1',
            })
          : await signToken(f.mutatePayload(f.pick(payloads)), pki.maa.privateKey, rs)
      const failure = await outcome(() => verifyAttestationToken(signed, options))
      assert.equal(failure, undefined, `#${i}`)
    }
  })
})
