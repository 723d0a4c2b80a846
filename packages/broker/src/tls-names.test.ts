import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { connect } from 'node:tls'
import { systemRandom } from '@subrosa/core'
import { startBroker } from './start.ts'

/** Whether a TLS client pinning the broker CA accepts the certificate for `servername`. */
function accepts(port: number, caPem: string, servername: string): Promise<boolean> {
  return new Promise((done) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem, servername }, () => {
      socket.end()
      done(true)
    })
    socket.on('error', () => done(false))
  })
}

describe('broker TLS certificate names', () => {
  it("names the --public-url host, so clients in a cluster verify the Service's DNS name", async () => {
    const broker = await startBroker({
      unsealKey: systemRandom(32),
      publicUrl: 'https://subrosa-broker.acme.svc:8443',
    })
    try {
      const port = Number(new URL(broker.url).port)
      assert.equal(await accepts(port, broker.caPem, 'subrosa-broker.acme.svc'), true)
      assert.equal(await accepts(port, broker.caPem, 'localhost'), true)
      assert.equal(await accepts(port, broker.caPem, 'other.acme.svc'), false)
    } finally {
      await broker.close()
    }
  })
})
