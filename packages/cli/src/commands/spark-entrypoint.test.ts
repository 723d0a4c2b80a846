// `subrosa launch --spark-entrypoint` and `subrosa job revoke` against a broker over loopback
// HTTPS, with the sim TEE and a stand-in for spark-submit that reports what it finds.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { generateSimPlatformKey } from '@subrosa/attest'
import { type RunningBroker, startBroker } from '@subrosa/broker'
import { systemRandom, toHex } from '@subrosa/core'
import { measureBundlePath } from '@subrosa/launcher'
import { type EarClaims, generateOwnerKey, teePublicKeyOf } from '@subrosa/protocol'
import { applyPolicy, BrokerClient } from '@subrosa/sdk'
import { decodeJwt, type JWK } from 'jose'
import { runCli } from '../child.ts'
import { cliEntry } from '../entry.ts'

const entry = cliEntry()

// The stand-in: what a Spark process would see when it starts.
const STAND_IN = `import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
const [file, marker] = process.argv.slice(2)
writeFileSync(marker, 'started')
const exists = existsSync(file)
const mode = exists ? (statSync(file).mode & 0o777).toString(8) : null
const bytes = exists ? readFileSync(file).length : 0
process.stdout.write(JSON.stringify({ exists, mode, bytes }) + '\\n')
process.exit(Number(process.env.STAND_IN_EXIT ?? 0))
`

function policyYaml(owner: string, measurement: string): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: spark, predecessor: null }
owners: { threshold: 1, keys: ["${owner}"] }
workloads:
  - name: job
    accept: [{ tee: sim, measurement: "${measurement}" }]
    inject:
      files: { /run/subrosa/spark-auth: "{{secret:spark-auth}}" }
    keys: []
secrets:
  - { name: spark-root, generate: { bytes: 32 } }
  - { name: spark-auth, derive: { from: spark-root, info: "spark.authenticate v1" } }
`
}

describe('subrosa launch --spark-entrypoint', () => {
  let dir: string
  let broker: RunningBroker
  let connection: string[]

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'subrosa-spark-entry-'))
    const owner = await generateOwnerKey()
    const sim = await generateSimPlatformKey()
    broker = await startBroker({
      dataDir: join(dir, 'broker'),
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
    })
    await mkdir(join(dir, 'job'))
    await writeFile(join(dir, 'job', 'plan.json'), '{"job":"taxi-fares"}\n')
    await mkdir(join(dir, 'tampered'))
    await writeFile(join(dir, 'tampered', 'plan.json'), '{"job":"something-else"}\n')
    const { measurement } = await measureBundlePath(join(dir, 'job'))
    const client = new BrokerClient({ url: broker.url, caPem: broker.caPem }, { owner })
    await applyPolicy(client, policyYaml(owner.id, toHex(measurement)))
    client.close()
    await writeFile(join(dir, 'owner.jwk'), JSON.stringify(owner.privateJwk), { mode: 0o600 })
    await writeFile(join(dir, 'sim.jwk'), JSON.stringify(sim.privateJwk), { mode: 0o600 })
    await writeFile(join(dir, 'stand-in.mjs'), STAND_IN)
    connection = ['--broker', broker.url, '--ca', join(dir, 'broker', 'ca.pem')]
  })
  after(async () => {
    await broker?.close()
    await rm(dir, { recursive: true, force: true })
  })

  const launch = (job: string, bundle: string, name: string, extra: string[] = []) => {
    const secret = join(dir, name, 'secret', 'spark-auth')
    const marker = join(dir, `${name}.started`)
    return {
      secret,
      marker,
      run: runCli(
        entry,
        [
          'launch',
          '--spark-entrypoint',
          '--policy',
          'acme/spark/job',
          '--job',
          job,
          '--secret-file',
          secret,
          '--bundle',
          bundle,
          '--sim-key',
          'sim.jwk',
          ...connection,
          ...extra,
          '--',
          process.execPath,
          join(dir, 'stand-in.mjs'),
          secret,
          marker,
        ],
        { cwd: dir },
      ),
    }
  }

  it('writes the secret file (0600) after attestation, then starts the command', async () => {
    const driver = launch('spark-7f3a', join(dir, 'job'), 'driver')
    const res = await driver.run
    assert.equal(res.status, 0, res.stderr)
    assert.deepEqual(JSON.parse(res.stdout.trim()), { exists: true, mode: '600', bytes: 32 })
    assert.match(res.stderr, /INSECURE/)
    assert.doesNotMatch(res.stderr + res.stdout, /spark-auth.*[0-9a-f]{64}/)
    // The KMS client's credentials: the token, and the private half of the key it attests.
    const secretDir = dirname(driver.secret)
    for (const name of ['kms-token', 'kms-key.jwk'])
      assert.equal((await stat(join(secretDir, name))).mode & 0o777, 0o600, name)
    const token = await readFile(join(secretDir, 'kms-token'), 'utf8')
    const key = JSON.parse(await readFile(join(secretDir, 'kms-key.jwk'), 'utf8')) as JWK
    const attested = teePublicKeyOf(decodeJwt(token) as EarClaims)
    assert.equal(key.kty, 'EC')
    assert.equal(typeof key.d, 'string', 'the private key')
    assert.deepEqual([key.x, key.y], [attested.x, attested.y], 'the key the token attests')
    assert.doesNotMatch(res.stderr + res.stdout, new RegExp(token.slice(-20).replace(/[-_]/g, '.')))
  })

  it('on failed attestation writes nothing, starts nothing and exits non-zero with the code', async () => {
    const denied = launch('spark-7f3b', join(dir, 'tampered'), 'denied')
    const res = await denied.run
    assert.equal(res.status, 1)
    assert.match(res.stderr, /error ERR_POLICY_DENIED: /)
    assert.equal(existsSync(denied.secret), false, 'no secret file')
    assert.equal(existsSync(join(dirname(denied.secret), 'kms-token')), false, 'no token file')
    assert.equal(existsSync(join(dirname(denied.secret), 'kms-key.jwk')), false, 'no key file')
    assert.equal(existsSync(denied.marker), false, 'the command never started')
  })

  it('ends the job when the driver exits, whatever its status, so its pods can no longer join', async () => {
    const driver = launch('spark-end-me', join(dir, 'job'), 'ending', ['--end-job'])
    const res = await driver.run
    assert.equal(res.status, 0, res.stderr)
    assert.match(res.stderr, /Ended job spark-end-me/)
    const late = launch('spark-end-me', join(dir, 'job'), 'late')
    const lateRes = await late.run
    assert.equal(lateRes.status, 1)
    assert.match(lateRes.stderr, /error ERR_JOB_REVOKED: /)
    assert.equal(existsSync(late.secret), false)
    assert.equal(existsSync(late.marker), false)
  })

  it('subrosa job revoke cancels a job for good', async () => {
    const owner = ['--owner-key', 'owner.jwk', '--json']
    const revoke = await runCli(
      entry,
      ['job', 'revoke', 'acme/spark/job', 'spark-cancelled', ...connection, ...owner],
      { cwd: dir },
    )
    assert.equal(revoke.status, 0, revoke.stderr)
    assert.deepEqual(JSON.parse(revoke.stdout.trim()), {
      workload: 'acme/spark/job',
      job: 'spark-cancelled',
      revoked: true,
      tokens: 0,
    })
    const res = await launch('spark-cancelled', join(dir, 'job'), 'cancelled').run
    assert.equal(res.status, 1)
    assert.match(res.stderr, /ERR_JOB_REVOKED/)
  })

  it('refuses --spark-entrypoint without a valid --job as a usage error', async () => {
    const res = await runCli(
      entry,
      [
        'launch',
        '--spark-entrypoint',
        '--policy',
        'acme/spark/job',
        '--job',
        '$(SUBROSA_JOB_ID)',
        ...connection,
        '--',
        '/bin/true',
      ],
      { cwd: dir },
    )
    assert.equal(res.status, 2)
    assert.match(res.stderr, /ERR_CLI_USAGE/)
  })
})
