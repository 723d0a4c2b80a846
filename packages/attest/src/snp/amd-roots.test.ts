import assert from 'node:assert/strict'
import { createHash, X509Certificate } from 'node:crypto'
import { describe, it } from 'node:test'
import { AMD_ROOTS } from './amd-roots.ts'
import { haveVectors, readVectorText } from './test-vectors.ts'

/** The pinned fingerprints (SHA-256 of the DER), prefix and suffix as in attestation-formats.md §2.4. */
const PINNED = {
  Milan: { ark: '69d063b4…540bcd', ask: '67d303bd…0bac1b', asvk: 'c5e081f5…9082f5' },
  Genoa: { ark: '4c6598d1…3db2f1', ask: '5464738c…828521', asvk: '197e6107…457372' },
  Turin: { ark: '1f084161…dd3f6a', ask: '5b77ef5f…3b3185', asvk: '104e10a8…df1a3c' },
} as const

const SUBJECTS = { ark: 'ARK-', ask: 'SEV-', asvk: 'SEV-VLEK-' } as const

function sha256(pem: string | Uint8Array): string {
  return createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')
}

describe('AMD_ROOTS', () => {
  for (const product of ['Milan', 'Genoa', 'Turin'] as const) {
    it(`${product}: ARK, ASK and ASVK match the pinned fingerprints and names`, () => {
      const set = AMD_ROOTS[product]
      assert.ok(set)
      for (const role of ['ark', 'ask', 'asvk'] as const) {
        const pem = set[role]
        assert.ok(pem !== undefined, role)
        const [head, tail] = PINNED[product][role].split('…') as [string, string]
        const digest = sha256(pem)
        assert.ok(digest.startsWith(head) && digest.endsWith(tail), `${product} ${role} ${digest}`)
        const cert = new X509Certificate(pem)
        assert.match(cert.subject, new RegExp(`CN=${SUBJECTS[role]}${product}$`, 'm'))
        assert.ok(cert.ca)
      }
      const ark = new X509Certificate(set.ark)
      assert.ok(ark.verify(ark.publicKey), 'ARK is self-signed')
      for (const role of ['ask', 'asvk'] as const) {
        assert.ok(new X509Certificate(set[role] as string).verify(ark.publicKey), `${role} by ARK`)
      }
    })
  }

  it('equal the go-sev-guest trust PEMs byte for byte (DER)', (t) => {
    const files = {
      Milan: ['ask_ark_milan.pem', 'ask_ark_milan_vlek.pem'],
      Genoa: ['ask_ark_genoa.pem', 'ask_ark_genoa_vlek.pem'],
      Turin: ['ask_ark_turin_vcek.pem', 'ask_ark_turin_vlek.pem'],
    } as const
    const all = Object.values(files).flatMap((f) => f.map((n) => `go-sev-guest/${n}`))
    if (!haveVectors(t, ...all)) return
    const certs = (name: string) =>
      (
        readVectorText(`go-sev-guest/${name}`).match(
          /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g,
        ) ?? []
      ).map(sha256)
    for (const [product, [vcek, vlek]] of Object.entries(files)) {
      const set = AMD_ROOTS[product as keyof typeof files]
      assert.ok(set?.ask && set.asvk)
      assert.deepEqual(certs(vcek), [sha256(set.ask), sha256(set.ark)])
      assert.deepEqual(certs(vlek), [sha256(set.asvk), sha256(set.ark)])
    }
  })
})
