import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { fromBase64, systemRandom, toBase64, toHex } from '@subrosa/core'
import { decryptWithKey } from '@subrosa/protocol'
import type { CryptoKey } from 'jose'
import { buildBrokerApp } from './app.ts'
import { startTestBroker, type TestBroker } from './testing/harness.ts'
import { attestSim, SIM_MEASUREMENT } from './testing/sim-flow.ts'

const WORKLOAD = 'acme/spark/job'

function sparkPolicy(owner: string): string {
  return `apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: spark, predecessor: null }
owners: { threshold: 1, keys: ["${owner}"] }
workloads:
  - name: job
    accept: [{ tee: sim, measurement: "${SIM_MEASUREMENT}" }]
    inject:
      files: { /run/subrosa/spark-auth: "{{secret:spark-auth}}" }
    keys: ["acme/taxi:unwrap", "acme/results:wrap", "acme/results:unwrap"]
secrets:
  - { name: spark-root, generate: { bytes: 32 } }
  - { name: spark-auth, derive: { from: spark-root, info: "spark.authenticate v1" } }
`
}

type Attested = { token: string; teeKey: CryptoKey }

describe('Spark jobs: one workload, per-job identity, revocation', () => {
  let tb: TestBroker
  before(async () => {
    tb = await startTestBroker()
    const applied = await tb.admin('POST', '/admin/v0/policies', { yaml: sparkPolicy(tb.owner.id) })
    assert.equal(applied.statusCode, 201, applied.body)
    for (const name of ['taxi', 'results'])
      assert.equal(
        (await tb.admin('POST', '/admin/v0/keys', { namespace: 'acme', name })).statusCode,
        201,
      )
  })
  after(() => tb.close())

  const attest = async (job?: string): Promise<Attested> => {
    const a = await attestSim(tb, SIM_MEASUREMENT, WORKLOAD, job)
    assert.equal(a.status, 200, JSON.stringify(a.body))
    return { token: String(a.body.token), teeKey: a.teeKey }
  }
  const call = (method: 'GET' | 'POST', url: string, token: string, payload?: unknown) =>
    tb.app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${token}` },
      ...(payload === undefined ? {} : { payload: payload as object }),
    })
  const sparkAuth = async (a: Attested) => {
    const res = await call('GET', '/kbs/v0/resource/acme/spark/spark-auth', a.token)
    assert.equal(res.statusCode, 200, res.body)
    return toHex(await decryptWithKey(res.json(), a.teeKey))
  }
  /** parquet-java KmsClient.wrapKey(keyBytes, masterKeyIdentifier) -> String. */
  const wrapKey = async (a: Attested, key: Uint8Array, masterKeyId: string) => {
    const res = await call('POST', '/kms/v0/wrap', a.token, { masterKeyId, key: toBase64(key) })
    return {
      status: res.statusCode,
      code: res.json().code as string | undefined,
      wrapped: res.json().wrapped as string,
    }
  }
  /** KmsClient.unwrapKey(wrappedKey, masterKeyIdentifier) -> byte[] (a JWE to the TEE key). */
  const unwrapKey = async (a: Attested, wrapped: string, masterKeyId: string) => {
    const res = await call('POST', '/kms/v0/unwrap', a.token, { masterKeyId, wrapped })
    if (res.statusCode !== 200) return { status: res.statusCode, code: res.json().code as string }
    const plain = JSON.parse(
      new TextDecoder().decode(await decryptWithKey(res.json().jwe, a.teeKey)),
    )
    return { status: 200, key: fromBase64(plain.key) }
  }

  it('follows KmsClient semantics for a workload: wrap -> string, unwrap -> the same bytes', async () => {
    const a = await attest()
    for (const length of [16, 24, 32]) {
      const key = systemRandom(length)
      const w = await wrapKey(a, key, 'acme/results')
      assert.equal(w.status, 200)
      assert.equal(typeof w.wrapped, 'string')
      assert.equal(w.wrapped.includes(toBase64(key)), false, 'the wrapped key is not the key')
      assert.deepEqual((await unwrapKey(a, w.wrapped, 'acme/results')).key, key)
      // Bound to the master key id: another id (even of the same key) does not unwrap it.
      assert.equal((await unwrapKey(a, w.wrapped, 'subrosa:acme/results')).code, 'ERR_CRYPTO_AUTH')
    }
    assert.equal(
      (await wrapKey(a, systemRandom(15), 'acme/results')).code,
      'ERR_PROTOCOL_MALFORMED',
    )
    // Grants are per operation: taxi may be unwrapped by this workload but not wrapped.
    assert.equal((await wrapKey(a, systemRandom(16), 'acme/taxi')).code, 'ERR_KMS_NOT_GRANTED')
  })

  it("gives a job's driver and late executors the same keys and auth secret, other jobs another", async () => {
    const driver = await attest('spark-0a1b2c')
    const executor = await attest('spark-0a1b2c')
    const other = await attest('spark-ffee99')
    const secret = await sparkAuth(driver)
    assert.equal(await sparkAuth(executor), secret)
    assert.notEqual(await sparkAuth(other), secret)
    const key = systemRandom(32)
    const w = await wrapKey(driver, key, 'acme/results')
    assert.deepEqual((await unwrapKey(executor, w.wrapped, 'acme/results')).key, key)
  })

  it('revokes the job when it ends: its tokens unwrap nothing, on every replica, and it cannot attest again', async () => {
    const driver = await attest('spark-1234')
    const executor = await attest('spark-1234')
    const bystander = await attest('spark-5678')
    const key = systemRandom(32)
    const { wrapped } = await wrapKey(driver, key, 'acme/results')
    assert.deepEqual((await unwrapKey(executor, wrapped, 'acme/results')).key, key)

    const end = await call('POST', '/kbs/v0/job/end', driver.token)
    assert.equal(end.statusCode, 200, end.body)
    assert.deepEqual(end.json(), {
      workload: WORKLOAD,
      job: 'spark-1234',
      revoked: true,
      tokens: 2,
    })

    for (const a of [driver, executor]) {
      assert.deepEqual(await unwrapKey(a, wrapped, 'acme/results'), {
        status: 401,
        code: 'ERR_TOKEN_REVOKED',
      })
      const res = await call('GET', '/kbs/v0/resource/acme/spark/spark-auth', a.token)
      assert.equal(res.json().code, 'ERR_TOKEN_REVOKED')
      assert.equal(
        (await call('GET', '/kbs/v0/workload', a.token)).json().code,
        'ERR_TOKEN_REVOKED',
      )
    }
    // A second replica on the same store refuses too: the revocation is in the database.
    const replica = buildBrokerApp(tb.context)
    await replica.ready()
    try {
      const res = await replica.inject({
        method: 'POST',
        url: '/kms/v0/unwrap',
        headers: { authorization: `Bearer ${executor.token}` },
        payload: { masterKeyId: 'acme/results', wrapped },
      })
      assert.equal(res.json().code, 'ERR_TOKEN_REVOKED')
    } finally {
      await replica.close()
    }
    // An executor that starts late cannot join the ended job.
    const late = await attestSim(tb, SIM_MEASUREMENT, WORKLOAD, 'spark-1234')
    assert.equal(late.status, 403)
    assert.equal(late.body.code, 'ERR_JOB_REVOKED')
    // Other jobs of the same workload go on.
    assert.deepEqual((await unwrapKey(bystander, wrapped, 'acme/results')).key, key)
    // Ending again changes nothing; a token without a job has no job to end.
    const plain = await attest()
    assert.equal((await call('POST', '/kbs/v0/job/end', plain.token)).json().code, 'ERR_JOB_NONE')

    const audit = (await tb.admin('GET', '/admin/v0/audit')).json() as {
      verified: boolean
      entries: { kind: string; data: Record<string, unknown> }[]
    }
    assert.equal(audit.verified, true)
    const revocations = audit.entries.filter((e) => e.kind === 'job.revoke')
    assert.deepEqual(revocations.at(-1)?.data, {
      workload: WORKLOAD,
      job: 'spark-1234',
      by: WORKLOAD,
      reason: 'end',
      tokens: 2,
    })
    const denied = audit.entries.filter(
      (e) => e.kind === 'attestation' && e.data.decision === 'deny',
    )
    assert.equal(denied.at(-1)?.data.code, 'ERR_JOB_REVOKED')
    assert.equal(denied.at(-1)?.data.job, 'spark-1234')
  })

  it('lets an owner cancel a job, and only an owner of its namespace', async () => {
    const a = await attest('spark-cancel-me')
    const url = '/admin/v0/jobs/acme/spark/job/spark-cancel-me/revoke'
    const unsigned = await tb.app.inject({ method: 'POST', url })
    assert.equal(unsigned.statusCode, 401)
    assert.equal(
      (await tb.admin('POST', '/admin/v0/jobs/acme/spark/nope/x/revoke')).json().code,
      'ERR_BROKER_NOT_FOUND',
    )
    const res = await tb.admin('POST', url)
    assert.equal(res.statusCode, 200, res.body)
    assert.deepEqual(res.json(), {
      workload: WORKLOAD,
      job: 'spark-cancel-me',
      revoked: true,
      tokens: 1,
    })
    assert.equal((await tb.admin('POST', url)).json().revoked, false)
    assert.equal((await call('GET', '/kbs/v0/workload', a.token)).json().code, 'ERR_TOKEN_REVOKED')
  })

  it('refuses a malformed job id at auth', async () => {
    const res = await tb.app.inject({
      method: 'POST',
      url: '/kbs/v0/auth',
      payload: {
        version: '0.1.1',
        tee: 'sim',
        'extra-params': { workload: WORKLOAD, job: 'Bad Job!' },
      },
    })
    assert.equal(res.json().code, 'ERR_PROTOCOL_MALFORMED')
  })
})

describe('per-job token records', () => {
  it('are purged once expired, at most once a second, by a later attestation with a job', async () => {
    const tb = await startTestBroker()
    try {
      const applied = await tb.admin('POST', '/admin/v0/policies', {
        yaml: sparkPolicy(tb.owner.id),
      })
      assert.equal(applied.statusCode, 201, applied.body)
      const attestJob = async (job: string) => {
        const a = await attestSim(tb, SIM_MEASUREMENT, WORKLOAD, job)
        assert.equal(a.status, 200, JSON.stringify(a.body))
      }
      const jobs = async () =>
        (
          await tb.context.db.query<{ job: string }>('SELECT job FROM workload_tokens ORDER BY job')
        ).rows.map((r) => r.job)
      const step = (ms: number) => tb.setNow(new Date(tb.now().getTime() + ms))
      const ttl = tb.context.tokenTtlSeconds * 1000

      await attestJob('job-1')
      step(ttl - 300)
      await attestJob('job-2') // purges, but job-1 has 0.3 s left
      assert.deepEqual(await jobs(), ['job-1', 'job-2'])
      step(600)
      await attestJob('job-3') // job-1 expired 0.3 s ago; the last purge was 0.6 s ago
      assert.deepEqual(await jobs(), ['job-1', 'job-2', 'job-3'])
      step(500)
      await attestJob('job-4') // 1.1 s since the last purge: job-1 goes
      assert.deepEqual(await jobs(), ['job-2', 'job-3', 'job-4'])
    } finally {
      await tb.close()
    }
  })
})
