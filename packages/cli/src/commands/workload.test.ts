// --tee on `subrosa launch` (and `run`, which shares it): choices and refusals before any broker call.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { describe, it } from 'node:test'
import { main } from '../cli.ts'
import { capture } from '../testing/capture.ts'

const LAUNCH = ['launch', '--policy', 'acme/p/w', '--broker', 'https://127.0.0.1:1']

describe('subrosa launch --tee', () => {
  it('refuses an unknown TEE kind as a usage error', async () => {
    const io = capture()
    assert.equal(await main([...LAUNCH, '--tee', 'sev', '--', '/bin/true'], io), 2)
    assert.match(io.stderr.join(''), /ERR_CLI_USAGE/)
  })

  it('sgx outside Gramine fails with ERR_LAUNCHER_TEE_UNAVAILABLE, without a sim key', async (t) => {
    if (existsSync('/dev/attestation')) return t.skip('this machine runs Gramine')
    const io = capture()
    assert.equal(await main([...LAUNCH, '--tee', 'sgx', '--', '/bin/true'], io), 1)
    assert.match(io.stderr.join(''), /error ERR_LAUNCHER_TEE_UNAVAILABLE: /)
  })
})
