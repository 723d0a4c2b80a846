import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { parsePolicy } from '@subrosa/policy'
import { generateOwnerKey } from '@subrosa/protocol'
import { main } from '../cli.ts'
import { capture } from '../testing/capture.ts'

const MRENCLAVE = '5d'.repeat(32)
const OWNER =
  'urn:ietf:params:oauth:jwk-thumbprint:sha-256:NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
// A small SCONE session written for this test: one service, a generated secret in a file.
const SESSION = `name: spark-auth-demo
version: "0.3"
security:
  attestation:
    tolerate: [software-hardening-needed]
services:
  - name: executor
    image_name: img
    mrenclaves: ["${MRENCLAVE}"]
    command: java -Dspark.authenticate.secret.file=/etc/secret Executor
secrets:
  - { name: SPARK_SECRET, kind: binary, size: 32 }
images:
  - name: img
    injection_files:
      - { path: /etc/secret, content: "$$SCONE::SPARK_SECRET$$" }
`

describe('subrosa policy import-scone', () => {
  let dir: string
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-scone-'))
    await writeFile(join(dir, 'session.yaml'), SESSION)
    await writeFile(
      join(dir, 'host.yaml'),
      SESSION.replace('Executor', 'Executor --driver-url @@3'),
    )
  })
  after(() => rm(dir, { recursive: true, force: true }))

  it('writes a policy that parses, and lists the mapping on stderr', async () => {
    const io = capture(dir)
    const args = ['policy', 'import-scone', 'session.yaml', '--namespace', 'acme']
    assert.equal(await main([...args, '--owner', OWNER, '-o', 'policy.yaml'], io), 0)
    const policy = parsePolicy(await readFile(join(dir, 'policy.yaml'), 'utf8'))
    assert.deepEqual(policy.owners.keys, [OWNER])
    assert.deepEqual(policy.workloads[0]?.inject.files, {
      '/run/subrosa/etc/secret': '{{secret:spark-secret}}',
    })
    assert.deepEqual(policy.workloads[0]?.accept[0], {
      tee: 'sgx',
      mrenclave: [MRENCLAVE],
      tcb: ['UpToDate', 'SWHardeningNeeded'],
    })
    const err = io.stderr.join('')
    assert.match(err, /mapped: service executor\.mrenclaves -> workloads\[0\]\.accept\[0\]/)
    assert.match(err, /mapped: secret SPARK_SECRET/)
    assert.doesNotMatch(err, /NOT CONVERTED/)
  })

  it('owns the policy with the --owner-key id when no --owner is given', async () => {
    const key = await generateOwnerKey()
    await writeFile(join(dir, 'me.jwk'), JSON.stringify(key.privateJwk))
    const io = capture(dir)
    const args = ['policy', 'import-scone', 'session.yaml', '--namespace', 'acme']
    assert.equal(await main([...args, '--owner-key', 'me.jwk'], io), 0)
    assert.deepEqual(parsePolicy(io.stdout.join('\n')).owners.keys, [key.id])
  })

  it('refuses unsupported constructs with their code unless --skip-unsupported', async () => {
    const args = ['policy', 'import-scone', 'host.yaml', '--namespace', 'acme', '--owner', OWNER]
    const refused = capture(dir)
    assert.equal(await main([...args, '--json'], refused), 1)
    const error = JSON.parse(refused.stdout.join('')).error
    assert.equal(error.code, 'ERR_POLICY_SCONE_UNSUPPORTED')
    assert.match(error.details.unsupported[0], /@@/)

    const skipped = capture(dir)
    assert.equal(await main([...args, '--skip-unsupported', '--json'], skipped), 0)
    const out = JSON.parse(skipped.stdout.join(''))
    assert.equal(out.unsupported.length, 1)
    assert.match(skipped.stderr.join(''), /NOT CONVERTED: service executor\.command argument 4/)
    assert.deepEqual(parsePolicy(out.yaml).workloads[0]?.inject.args, [
      '-Dspark.authenticate.secret.file=/run/subrosa/etc/secret',
      'Executor',
      '--driver-url',
    ])
  })

  it('needs --namespace', async () => {
    const io = capture(dir)
    assert.equal(await main(['policy', 'import-scone', 'session.yaml', '--owner', OWNER], io), 2)
  })
})
