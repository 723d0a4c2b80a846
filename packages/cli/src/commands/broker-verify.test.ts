import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, get, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateSimPlatformKey } from '@subrosa/attest'
import { issueServerCertificate, type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import { checkBrokerAttestation, fetchBrokerAttestation } from '@subrosa/sdk'
import { lastJson } from '../child.ts'
import { runInProcess } from '../in-process.ts'

describe('subrosa broker verify (self-attestation over loopback TLS)', () => {
  let dir: string
  let a: RunningBroker
  let b: RunningBroker
  let plain: RunningBroker

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-cli-verify-'))
    a = await startBroker({ unsealKey: systemRandom(32), selfAttestation: { tee: 'sim' } })
    b = await startBroker({ unsealKey: systemRandom(32), selfAttestation: { tee: 'sim' } })
    plain = await startBroker({ unsealKey: systemRandom(32) })
    await writeFile(join(dir, 'a.pem'), a.caPem)
    await writeFile(join(dir, 'b.pem'), b.caPem)
    await writeFile(join(dir, 'plain.pem'), plain.caPem)
    await writeFile(join(dir, 'a.pub.jwk'), JSON.stringify(a.selfAttestationKey))
    await writeFile(
      join(dir, 'other.pub.jwk'),
      JSON.stringify((await generateSimPlatformKey()).publicJwk),
    )
  })
  after(async () => {
    await Promise.all([a.close(), b.close(), plain.close()])
    await rm(dir, { recursive: true, force: true })
  })

  const verify = (args: string[]) => runInProcess(['broker', 'verify', ...args], dir)

  it('verifies a broker against its pinned sim key and says the TEE is simulated', async () => {
    const json = await verify([
      '--url',
      a.url,
      '--ca',
      'a.pem',
      '--sim-trust',
      'a.pub.jwk',
      '--json',
    ])
    assert.equal(json.status, 0, json.stderr)
    const result = lastJson(json.stdout)
    assert.equal(result?.ok, true)
    assert.equal(result?.tee, 'sim')
    assert.equal(result?.insecure, true)
    assert.equal(result?.platformKeyPinned, true)
    assert.match(String(result?.certificateSha256), /^[0-9a-f]{64}$/)
    assert.match(json.stderr, /simulated TEE — not secure/)

    const text = await verify(['--url', a.url, '--ca', 'a.pem', '--sim-trust', 'a.pub.jwk'])
    assert.equal(text.status, 0)
    assert.match(text.stdout, /SIMULATED TEE — NOT SECURE/)
    assert.match(text.stdout, /= the certificate of this TLS connection/)

    const unpinned = await verify(['--url', a.url, '--ca', 'a.pem', '--json'])
    assert.equal(unpinned.status, 0)
    assert.equal(lastJson(unpinned.stdout)?.platformKeyPinned, false)
  })

  it('fails with a code on another sim key, another CA, or no self-attestation', async () => {
    const cases: [string[], string][] = [
      [
        ['--url', a.url, '--ca', 'a.pem', '--sim-trust', 'other.pub.jwk'],
        'ERR_ATTEST_UNTRUSTED_KEY',
      ],
      [['--url', a.url, '--ca', 'b.pem', '--sim-trust', 'a.pub.jwk'], 'ERR_SDK_CONNECT'],
      [['--url', plain.url, '--ca', 'plain.pem'], 'ERR_BROKER_NOT_FOUND'],
    ]
    for (const [args, code] of cases) {
      const res = await verify([...args, '--json'])
      assert.equal(res.status, 1, args.join(' '))
      assert.equal((lastJson(res.stdout)?.error as { code?: string } | undefined)?.code, code)
    }
  })

  it('refuses a relay that holds another certificate from the same CA, over real TLS', async () => {
    // Anyone with a certificate from the broker CA (a workload, a stolen replica cert) can
    // terminate TLS for 127.0.0.1 and pass the broker's genuine answer through.
    const tls = await issueServerCertificate(
      a.context.keys.ca,
      ['127.0.0.1'],
      new Date(),
      systemRandom(16),
    )
    const relay: Server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
      get(new URL(req.url ?? '/', a.url), { ca: a.caPem }, (upstream) => {
        res.writeHead(upstream.statusCode ?? 502, { 'content-type': 'application/json' })
        upstream.pipe(res)
      })
    })
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r))
    try {
      const url = `https://127.0.0.1:${(relay.address() as AddressInfo).port}`
      const res = await verify([
        '--url',
        url,
        '--ca',
        'a.pem',
        '--sim-trust',
        'a.pub.jwk',
        '--json',
      ])
      assert.equal(res.status, 1, res.stdout)
      assert.equal(
        (lastJson(res.stdout)?.error as { code?: string } | undefined)?.code,
        'ERR_SDK_ATTESTATION_CERTIFICATE',
      )
    } finally {
      relay.closeAllConnections()
      await new Promise((r) => relay.close(r))
    }
  })

  it('refuses a wrong nonce echo, a replayed answer, another broker certificate and tampered evidence', async () => {
    const trusted = {
      simTrustedKeys: [a.selfAttestationKey as NonNullable<typeof a.selfAttestationKey>],
    }
    const nonce = systemRandom(32)
    const fetched = await fetchBrokerAttestation({ url: a.url, caPem: a.caPem }, nonce)
    const now = new Date()
    const ok = await checkBrokerAttestation(fetched, { nonce, now, ...trusted })
    assert.equal(ok.platformKeyPinned, true)

    // The answer is for another nonce than the one sent.
    await assert.rejects(
      checkBrokerAttestation(fetched, { nonce: systemRandom(32), now, ...trusted }),
      {
        code: 'ERR_SDK_ATTESTATION_NONCE',
      },
    )
    // An old answer replayed with the new nonce pasted in: the evidence binds the old one.
    const fresh = systemRandom(32)
    const body = {
      ...(fetched.body as Record<string, unknown>),
      nonce: Buffer.from(fresh).toString('base64url'),
    }
    await assert.rejects(
      checkBrokerAttestation({ ...fetched, body }, { nonce: fresh, now, ...trusted }),
      {
        code: 'ERR_SDK_ATTESTATION_BINDING',
      },
    )
    // A's answer arriving over a connection that presented B's certificate (a relay).
    const fromB = await fetchBrokerAttestation({ url: b.url, caPem: b.caPem }, nonce)
    await assert.rejects(
      checkBrokerAttestation(
        { ...fetched, peerCertificate: fromB.peerCertificate },
        { nonce, now, ...trusted },
      ),
      { code: 'ERR_SDK_ATTESTATION_CERTIFICATE' },
    )
    // B's genuine answer does not pass under A's pinned key.
    await assert.rejects(checkBrokerAttestation(fromB, { nonce, now, ...trusted }), {
      code: 'ERR_ATTEST_UNTRUSTED_KEY',
    })
    // One flipped bit in the evidence payload.
    const [h, p, s] = String((fetched.body as { evidence: string }).evidence).split('.') as [
      string,
      string,
      string,
    ]
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString())
    payload.measurement = `${payload.measurement.slice(0, -1)}${payload.measurement.endsWith('0') ? '1' : '0'}`
    const tampered = {
      ...(fetched.body as Record<string, unknown>),
      evidence: `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`,
    }
    await assert.rejects(
      checkBrokerAttestation({ ...fetched, body: tampered }, { nonce, now, ...trusted }),
      {
        code: 'ERR_ATTEST_SIGNATURE',
      },
    )
    await assert.rejects(
      checkBrokerAttestation(
        { ...fetched, body: { ...(fetched.body as object), binding: 'other' } },
        { nonce, now, ...trusted },
      ),
      { code: 'ERR_PROTOCOL_MALFORMED' },
    )
  })
})
