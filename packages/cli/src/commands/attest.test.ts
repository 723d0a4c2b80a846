// `subrosa attest verify` on real published evidence (../shared/vectors, read in place), in
// process: exit codes, the human verdict, the --json report and policy decisions.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it, type TestContext } from 'node:test'
import { signEarToken } from '@subrosa/protocol'
import { exportJWK, generateKeyPair } from 'jose'
import { runInProcess } from '../in-process.ts'

const override = process.env.SUBROSA_VECTORS
const VECTORS =
  override ?? new URL('../../../../../shared/vectors/', import.meta.url).pathname.replace(/\/$/, '')

function have(t: TestContext, ...files: string[]): boolean {
  const missing = files.filter((f) => !existsSync(join(VECTORS, f)))
  if (missing.length > 0) t.skip(`vectors absent (${missing.join(', ')}): set SUBROSA_VECTORS`)
  return missing.length === 0
}

const cli = runInProcess

const v = (f: string) => join(VECTORS, f)

/** A one-workload policy (`job`) accepting `clause`, with `debug` as given. */
function jobPolicy(name: string, clause: string, debug = 'deny'): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: ${name}, predecessor: null }
owners: { threshold: 1, keys: ["urn:ietf:params:oauth:jwk-thumbprint:sha-256:${'A'.repeat(43)}"] }
workloads:
  - name: job
    debug: ${debug}
    accept: [${clause}]
`
}
const SGX = ['dcap-qvl/sgx_quote', 'dcap-qvl/sgx_quote_collateral.json']
const TDX = ['dcap-qvl/tdx_quote', 'dcap-qvl/tdx_quote_collateral.json']
const SNP = ['trustee/test-report.bin', 'trustee/test-vcek.der']
const JULY_2025 = '2025-07-01T00:00:00Z'

describe('subrosa attest verify', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-attest-cli-'))
  })
  after(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('verifies a real SGX quote with its collateral: status, advisories, exit 0', async (t) => {
    if (!have(t, ...SGX)) return
    const args = ['--evidence', v(SGX[0] as string), '--collateral', v(SGX[1] as string)]
    const text = await cli(['attest', 'verify', ...args, '--at', JULY_2025])
    assert.equal(text.status, 0, text.stdout)
    assert.match(text.stdout, /^VERIFIED sgx: TCB ConfigurationAndSWHardeningNeeded/)
    assert.match(text.stdout, /advisories: INTEL-SA-00289, INTEL-SA-00615/)
    const json = await cli(['attest', 'verify', ...args, '--at', JULY_2025, '--json'])
    const report = JSON.parse(json.stdout)
    assert.equal(report.verified, true)
    assert.equal(report.tee, 'sgx')
    assert.equal(report.tcbStatus, 'ConfigurationAndSWHardeningNeeded')
    assert.deepEqual(report.advisories, ['INTEL-SA-00289', 'INTEL-SA-00615'])
    assert.equal(report.claims.mrenclave.length, 64)
    assert.equal(report.details.fmspc, '00a067110000')
    assert.equal(report.details.crls, 'checked')
  })

  it('fails closed when the collateral has expired at --at', async (t) => {
    if (!have(t, ...SGX)) return
    const args = ['--evidence', v(SGX[0] as string), '--collateral', v(SGX[1] as string)]
    const late = await cli(['attest', 'verify', ...args, '--at', '2026-01-01T00:00:00Z', '--json'])
    assert.equal(late.status, 1)
    const report = JSON.parse(late.stdout)
    assert.equal(report.verified, false)
    assert.match(report.error.code, /^ERR_ATTEST_(COLLATERAL_EXPIRED|EXPIRED|CRL)$/)
  })

  it('verifies a real TDX quote and refuses collateral of another platform', async (t) => {
    if (!have(t, ...TDX, SGX[1] as string)) return
    const quote = ['--evidence', v(TDX[0] as string), '--at', JULY_2025, '--json']
    const ok = await cli(['attest', 'verify', ...quote, '--collateral', v(TDX[1] as string)])
    assert.equal(ok.status, 0, ok.stdout)
    const report = JSON.parse(ok.stdout)
    assert.equal(report.tcbStatus, 'UpToDate')
    assert.equal(report.claims.mrtd.length, 96)
    assert.equal(report.details.fmspc, 'b0c06f000000')
    const wrong = await cli(['attest', 'verify', ...quote, '--collateral', v(SGX[1] as string)])
    assert.equal(wrong.status, 1)
    assert.equal(JSON.parse(wrong.stdout).error.code, 'ERR_ATTEST_COLLATERAL')
    const none = await cli(['attest', 'verify', ...quote])
    assert.equal(JSON.parse(none.stdout).error.code, 'ERR_ATTEST_UNSUPPORTED_TEE')
  })

  it('refuses a tampered quote with a signature error', async (t) => {
    if (!have(t, ...TDX)) return
    const { readFile } = await import('node:fs/promises')
    const bytes = new Uint8Array(await readFile(v(TDX[0] as string)))
    bytes[200] = (bytes[200] as number) ^ 1 // inside the TD report body
    await writeFile(join(dir, 'tampered'), bytes)
    const out = await cli([
      'attest',
      'verify',
      '--evidence',
      join(dir, 'tampered'),
      '--collateral',
      v(TDX[1] as string),
      '--at',
      JULY_2025,
    ])
    assert.equal(out.status, 1)
    assert.match(out.stdout, /^NOT VERIFIED \(tdx\): ERR_ATTEST_SIGNATURE/)
  })

  it('evaluates a policy for SEV-SNP evidence: allowed, then denied with the reason', async (t) => {
    if (!have(t, ...SNP)) return
    const measurement =
      'a1f3930413247bb38cfc171579ea3c12d5fe4901f0c792f63fd75d98f1ef827c23500644e0e692e6be917f9050d3d38c'
    const policy = (minGuestSvn: number) =>
      jobPolicy(
        'snp-check',
        `{ tee: snp, measurement: "${measurement}", minGuestSvn: ${minGuestSvn}, vmpl: 0 }`,
      )
    await writeFile(join(dir, 'allow.yaml'), policy(4))
    await writeFile(join(dir, 'deny.yaml'), policy(5))
    const base = [
      'attest',
      'verify',
      '--evidence',
      v(SNP[0] as string),
      '--certs',
      v(SNP[1] as string),
    ]
    const at = ['--at', '2025-06-01T00:00:00Z', '--workload', 'job']
    const allowed = await cli([...base, ...at, '--policy', join(dir, 'allow.yaml'), '--json'])
    assert.equal(allowed.status, 0, allowed.stdout)
    const a = JSON.parse(allowed.stdout)
    assert.equal(a.decision.allow, true)
    assert.equal(a.decision.clause, 'workloads[0].accept[0]')
    const denied = await cli([...base, ...at, '--policy', join(dir, 'deny.yaml')])
    assert.equal(denied.status, 1)
    assert.match(denied.stdout, /^VERIFIED snp/)
    assert.match(denied.stdout, /DENIED by workloads\[0\]\.accept/)
    assert.match(denied.stdout, /accept\[0\]: .*guestSvn/i)
  })

  it('refuses go-sev-guest’s debug report under a debug-deny policy, after verifying it', async (t) => {
    const files = ['go-sev-guest/attestation.bin', 'go-sev-guest/vcek.testcer']
    if (!have(t, ...files)) return
    const measurement =
      'b07af9620f3b839b47996422ddec6058338951d984e312115131ea82705eaf5b6bdf8a9ece31a5a608eb0cf2e4872b01'
    const policy = (debug: string) =>
      jobPolicy('snp-debug', `{ tee: snp, measurement: "${measurement}" }`, debug)
    await writeFile(join(dir, 'debug-deny.yaml'), policy('deny'))
    await writeFile(join(dir, 'debug-allow.yaml'), policy('allow'))
    const base = [
      'attest',
      'verify',
      '--evidence',
      v(files[0] as string),
      '--certs',
      v(files[1] as string),
      '--at',
      '2022-09-24T01:00:00Z',
      '--workload',
      'job',
      '--json',
    ]
    const denied = await cli([...base, '--policy', join(dir, 'debug-deny.yaml')])
    assert.equal(denied.status, 1)
    const report = JSON.parse(denied.stdout)
    assert.equal(report.verified, true, 'signature and chain are valid')
    assert.equal(report.claims.debug, true)
    assert.equal(report.decision.allow, false)
    assert.equal(report.decision.clause, 'workloads[0].debug')
    const allowed = await cli([...base, '--policy', join(dir, 'debug-allow.yaml')])
    assert.equal(allowed.status, 0, allowed.stdout)
  })

  it('verifies an EAR token with the issuer’s JWKS, and refuses it with another key', async () => {
    const issuerKey = async (kid: string) => {
      const pair = await generateKeyPair('ES256', { extractable: true })
      const jwk = { ...(await exportJWK(pair.privateKey)), kid, alg: 'ES256' }
      const { d: _d, ...pub } = jwk
      return { jwk, pub }
    }
    const signer = await issuerKey('k1')
    const stranger = await issuerKey('k1')
    const now = new Date('2026-12-01T00:00:00Z')
    const { x, y } = await exportJWK((await generateKeyPair('ECDH-ES+A256KW')).publicKey)
    const token = await signEarToken(
      {
        issuer: 'https://broker.example',
        now,
        ttlSeconds: 600,
        jti: 'j1',
        nonce: 'n1',
        build: 'test',
        status: 'warning',
        trustVector: { hardware: 0 },
        annotatedEvidence: {
          tee: 'sim',
          debug: false,
          measurement: 'ab'.repeat(48),
          svn: 1,
          reportData: 'cd'.repeat(64),
          platformKey: 'sim-key',
        },
        teePublicKey: {
          kty: 'EC',
          crv: 'P-256',
          x: x as string,
          y: y as string,
          alg: 'ECDH-ES+A256KW',
        },
        workload: {
          namespace: 'a',
          policy: 'b',
          workload: 'c',
          policyHash: 'sha384:0',
          policyVersion: 1,
          clause: 'x',
        },
        tee: 'sim',
        insecure: true,
      },
      signer.jwk,
    )
    await writeFile(join(dir, 'ear.jwt'), token)
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [signer.pub] }))
    await writeFile(join(dir, 'other.json'), JSON.stringify({ keys: [stranger.pub] }))
    const base = ['attest', 'verify', '--evidence', join(dir, 'ear.jwt'), '--token-kind', 'ear']
    const at = ['--at', '2026-12-01T00:05:00Z', '--json']
    const ok = await cli([...base, '--certs', join(dir, 'jwks.json'), ...at])
    assert.equal(ok.status, 0, ok.stdout)
    const report = JSON.parse(ok.stdout)
    assert.equal(report.tee, 'sim')
    assert.equal(report.claims.insecure, true)
    assert.equal(report.claims.source.issuer, 'https://broker.example')
    const forged = await cli([...base, '--certs', join(dir, 'other.json'), ...at])
    assert.equal(forged.status, 1)
    assert.match(
      JSON.parse(forged.stdout).error.code,
      /^ERR_ATTEST_(SIGNATURE|TOKEN|UNTRUSTED_KEY)$/,
    )
    const late = await cli([
      ...base,
      '--certs',
      join(dir, 'jwks.json'),
      '--at',
      '2026-12-01T01:00:00Z',
      '--json',
    ])
    assert.equal(JSON.parse(late.stdout).error.code, 'ERR_ATTEST_EXPIRED')
  })

  it('explains usage errors', async () => {
    const none = await cli(['attest', 'verify'])
    assert.equal(none.status, 2)
    assert.match(none.stderr, /--evidence/)
    const badType = await cli(['attest', 'verify', '--evidence', 'x', '--type', 'tpm'])
    assert.equal(badType.status, 2)
    const badTime = await cli(['attest', 'verify', '--evidence', 'x', '--at', 'yesterday'])
    assert.equal(badTime.status, 2)
    assert.match(badTime.stderr, /--at/)
  })
})
