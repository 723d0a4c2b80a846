import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { connect } from 'node:tls'
import { verifySimEvidence } from '@subrosa/attest'
import { systemRandom, toBase64Url, toHex } from '@subrosa/core'
import { selfAttestationReportData } from '@subrosa/protocol'
import { type RunningBroker, startBroker } from './start.ts'

/** The DER certificate the broker presents on a real TLS connection. */
function peerCertificate(broker: RunningBroker): Promise<Uint8Array> {
  const url = new URL(broker.url)
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: url.hostname, port: Number(url.port), ca: broker.caPem, servername: 'localhost' },
      () => {
        const raw = socket.getPeerCertificate().raw
        socket.end()
        resolve(new Uint8Array(raw))
      },
    )
    socket.on('error', reject)
  })
}

describe('GET /v1/attestation/self', () => {
  it('answers sim evidence binding the served TLS certificate and the nonce', async () => {
    const broker = await startBroker({
      unsealKey: systemRandom(32),
      selfAttestation: { tee: 'sim' },
    })
    try {
      const nonce = systemRandom(32)
      const res = await broker.app.inject({
        method: 'GET',
        url: `/v1/attestation/self?nonce=${toBase64Url(nonce)}`,
      })
      assert.equal(res.statusCode, 200)
      const body = res.json()
      assert.equal(body.binding, 'subrosa-broker-self-attestation-v1')
      assert.equal(body.tee, 'sim')
      assert.equal(body.insecure, true)
      assert.equal(body.nonce, toBase64Url(nonce))
      assert.equal(body.caCertificate, broker.caPem)
      assert.deepEqual(body.platformKey, broker.selfAttestationKey)
      const der = await peerCertificate(broker)
      assert.equal(body.certificateSha256, createHash('sha256').update(der).digest('hex'))
      const claims = await verifySimEvidence(body.evidence, {
        trustedKeys: [broker.selfAttestationKey as NonNullable<typeof broker.selfAttestationKey>],
        now: new Date(),
      })
      assert.equal(claims.reportData, toHex(selfAttestationReportData(der, nonce)))
      // The binding really depends on both inputs.
      assert.notEqual(claims.reportData, toHex(selfAttestationReportData(der, systemRandom(32))))
      const otherDer = Uint8Array.from(der)
      otherDer[otherDer.length - 1] = (otherDer[otherDer.length - 1] as number) ^ 1
      assert.notEqual(claims.reportData, toHex(selfAttestationReportData(otherDer, nonce)))
    } finally {
      await broker.close()
    }
  })

  it('refuses a missing, short, long or non-base64url nonce with ERR_PROTOCOL_MALFORMED', async () => {
    const broker = await startBroker({
      unsealKey: systemRandom(32),
      selfAttestation: { tee: 'sim' },
    })
    try {
      for (const q of [
        '',
        '?nonce=',
        `?nonce=${toBase64Url(systemRandom(15))}`,
        `?nonce=${toBase64Url(systemRandom(65))}`,
        `?nonce=${toBase64Url(systemRandom(32))}%2B`,
        `?nonce=${encodeURIComponent(Buffer.from(systemRandom(32)).toString('base64'))}`,
        '?nonce=a&nonce=b',
      ]) {
        const res = await broker.app.inject({ method: 'GET', url: `/v1/attestation/self${q}` })
        assert.equal(res.statusCode, 400, q)
        assert.equal(res.json().code, 'ERR_PROTOCOL_MALFORMED', q)
      }
      const ok = await broker.app.inject({
        method: 'GET',
        url: `/v1/attestation/self?nonce=${toBase64Url(systemRandom(16))}`,
      })
      assert.equal(ok.statusCode, 200)
    } finally {
      await broker.close()
    }
  })

  it('is off unless enabled, and keeps its generated sim key across restarts', async () => {
    const off = await startBroker({ unsealKey: systemRandom(32) })
    try {
      const res = await off.app.inject({
        method: 'GET',
        url: `/v1/attestation/self?nonce=${toBase64Url(systemRandom(32))}`,
      })
      assert.equal(res.statusCode, 404)
      assert.equal(res.json().code, 'ERR_BROKER_NOT_FOUND')
      assert.equal(off.selfAttestationKey, undefined)
    } finally {
      await off.close()
    }
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-self-'))
    const unsealKey = systemRandom(32)
    try {
      const first = await startBroker({ dataDir: dir, unsealKey, selfAttestation: { tee: 'sim' } })
      const key = first.selfAttestationKey
      await first.close()
      const second = await startBroker({ dataDir: dir, unsealKey, selfAttestation: { tee: 'sim' } })
      assert.deepEqual(second.selfAttestationKey, key)
      assert.equal(second.selfAttestationKey?.d, undefined)
      await second.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
