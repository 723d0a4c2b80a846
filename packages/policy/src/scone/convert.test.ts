import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { SgxClaims } from '@subrosa/attest'
import { evaluatePolicy } from '../evaluate.ts'
import { parsePolicy } from '../policy.ts'
import { convertSconeSession } from './convert.ts'

const OWNER =
  'urn:ietf:params:oauth:jwk-thumbprint:sha-256:NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs'
const session = (name: string): string =>
  readFileSync(new URL(`../../fixtures/scone/${name}`, import.meta.url), 'utf8')
const DRIVER = 'ce65143d5b43506c16232ac9b26ee74027109bf9a7f60ee15ba59561ef109ca5'
const EXECUTOR = 'e517e6d948352da317db6b1c9fb8f2f93cdb17cbd8d370b31aa60ec9ff0321e9'
const API = 'aa456c277bcabada5113ae0cc612e3e434f17036493383add2895bf8b1481b55'
const SAS = 'sv=2026-01-01&ss=b&sig=not-a-real-signature'

function sgx(over: Partial<SgxClaims> = {}): SgxClaims {
  return {
    tee: 'sgx',
    insecure: false,
    debug: false,
    mrenclave: DRIVER,
    mrsigner: '22'.repeat(32),
    isvProdId: 1,
    isvSvn: 1,
    tcbStatus: 'UpToDate',
    advisoryIds: [],
    source: { kind: 'evidence' },
    ...over,
  }
}

function thrownBy(fn: () => unknown): { code: string; details?: { unsupported?: string[] } } {
  try {
    fn()
  } catch (e) {
    return e as { code: string; details?: { unsupported?: string[] } }
  }
  throw new Error('expected an error')
}

describe('convertSconeSession', () => {
  it('converts the Spark session into a policy that parses and evaluates real claims', () => {
    const r = convertSconeSession(session('spark.session.yaml'), {
      namespace: 'acme',
      owners: [OWNER],
    })
    assert.deepEqual(r.unsupported, [])
    const p = parsePolicy(r.yaml) // the printed YAML is itself a valid policy
    assert.deepEqual(p, r.policy)
    assert.deepEqual(p.metadata, { namespace: 'acme', name: 'pyspark-nyc-taxi', predecessor: null })
    assert.deepEqual(
      p.workloads.map((w) => w.name),
      ['driver-java', 'executor'],
    )
    const driver = p.workloads[0]
    assert.deepEqual(driver?.accept[0], {
      tee: 'sgx',
      mrenclave: [DRIVER],
      tcb: [
        'UpToDate',
        'ConfigurationNeeded',
        'OutOfDate',
        'SWHardeningNeeded',
        'OutOfDateConfigurationNeeded',
        'ConfigurationAndSWHardeningNeeded',
      ],
      allowAdvisories: ['*'],
    })
    assert.equal(driver?.debug, 'allow')
    assert.deepEqual(driver?.inject.env, {
      AZURE_SAS_TOKEN: '{{secret:sas-token:text}}',
      AZURE_CONTAINER: 'taxi',
      SPARK_LOCAL_IP: '127.0.0.1',
    })
    assert.deepEqual(driver?.inject.files, {
      '/run/subrosa/etc/secret': '{{secret:encryption-secret:hex}}',
    })
    assert.deepEqual(driver?.inject.args?.slice(0, 2), [
      '-Dspark.authenticate=true',
      '-Dspark.authenticate.secret.file=/run/subrosa/etc/secret',
    ])
    assert.deepEqual(p.secrets, [
      { name: 'encryption-secret', generate: { bytes: 16 } },
      { name: 'sas-token', import: true },
    ])
    // The imported value is never copied anywhere.
    assert.ok(!r.yaml.includes('not-a-real-signature'))
    assert.ok(![...r.mapped, ...r.unsupported].some((m) => m.includes(SAS)))
    assert.match(r.yaml, /^# Converted from SCONE session pyspark-nyc-taxi\./)
    assert.ok(r.mapped.some((m) => m.startsWith('predecessor')))

    const allow = (claims: SgxClaims, workload = 'driver-java') =>
      evaluatePolicy(p, workload, claims, { allowSim: false })
    assert.equal(allow(sgx()).allow, true)
    assert.equal(
      allow(sgx({ tcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-00615'] })).allow,
      true,
    )
    assert.equal(allow(sgx({ debug: true })).allow, true) // tolerate debug-mode, made visible
    assert.equal(allow(sgx({ mrenclave: EXECUTOR })).allow, false)
    assert.equal(allow(sgx({ mrenclave: EXECUTOR }), 'executor').allow, true)
    assert.equal(allow(sgx({ tcbStatus: 'Revoked' })).allow, false)
  })

  it('refuses unsupported constructs, listing each, and leaves them out with skipUnsupported', () => {
    const yaml = session('host-args.session.yaml')
    const error = thrownBy(() => convertSconeSession(yaml, { namespace: 'acme', owners: [OWNER] }))
    assert.equal(error.code, 'ERR_POLICY_SCONE_UNSUPPORTED')
    const listed = error.details?.unsupported ?? []
    for (const construct of [
      /^volumes/,
      /command argument 3: .*@@/,
      /command argument 5: .*@@/,
      /environment\.SCONE_LAS_ADDR/,
      /fspf_path/,
      /fspf_key/,
      /mesh_ca \(kind x509-ca\)/,
      /upstream_key\.import/,
    ])
      assert.ok(
        listed.some((l) => construct.test(l)),
        `${construct} not in ${JSON.stringify(listed)}`,
      )

    const r = convertSconeSession(yaml, {
      namespace: 'acme',
      owners: [OWNER],
      skipUnsupported: true,
    })
    assert.deepEqual(r.unsupported, listed)
    const w = r.policy.workloads[0]
    assert.deepEqual(w?.inject.args, [
      'org.apache.spark.executor.CoarseGrainedExecutorBackend',
      '--driver-url',
      '--executor-id',
    ])
    assert.deepEqual(w?.inject.env, { MODE: 'hw' })
    assert.deepEqual(r.policy.secrets, [{ name: 'salt', generate: { bytes: 32 } }])
    assert.match(r.yaml, /# NOT CONVERTED: volumes/)
    assert.equal(
      evaluatePolicy(r.policy, 'executor', sgx({ mrenclave: EXECUTOR, debug: true }), {
        allowSim: false,
      }).allow,
      false,
    )
  })

  it('maps Azure Attestation mode, certificates, key parts and exports', () => {
    const r = convertSconeSession(session('maa-mtls.session.yaml'), {
      namespace: 'health',
      owners: [OWNER],
    })
    assert.deepEqual(r.unsupported, [])
    const p = parsePolicy(r.yaml)
    const api = p.workloads[0]
    assert.deepEqual(api?.accept[0], {
      tee: 'sgx',
      mrenclave: [API],
      issuer: 'https://sharedeus.eus.attest.azure.net',
      tcbFromIssuer: true,
    })
    assert.deepEqual(api?.inject.files, {
      '/run/subrosa/etc/tls/api.crt': '{{secret:api-cert.cert}}',
      '/run/subrosa/etc/tls/api.key': '{{secret:api-cert.private}}',
      '/run/subrosa/etc/model.conf': 'key_hex={{secret:model-key:hex}}\n',
    })
    assert.deepEqual(api?.inject.env, { REDIS_CA: '{{secret:api-cert.ca}}' })
    assert.deepEqual(api?.inject.args, [
      '/app/rest_api.py',
      '--cert',
      '/run/subrosa/etc/tls/api.crt',
      '--key',
      '/run/subrosa/etc/tls/api.key',
    ])
    assert.deepEqual(p.secrets[0], {
      name: 'api-cert',
      generate: {
        type: 'x509',
        keyType: 'ec-p256',
        uri: 'spiffe://health/inference-api/api-cert',
        dns: ['api.inference.svc'],
        days: 90,
      },
    })
    assert.deepEqual(p.grants, [{ secret: 'model-key', to: 'health/onnx-server' }])

    const token = (issuer: string): SgxClaims => {
      const { tcbStatus: _t, ...claims } = sgx({ mrenclave: API })
      return { ...claims, source: { kind: 'token', issuer, raw: {} } }
    }
    const decide = (c: SgxClaims) => evaluatePolicy(p, 'api', c, { allowSim: false }).allow
    assert.equal(decide(token('https://sharedeus.eus.attest.azure.net')), true)
    assert.equal(decide(token('https://evil.attest.example')), false)
    assert.equal(decide(sgx({ mrenclave: API })), false) // hardware evidence: the clause wants a token
  })

  it('answers malformed sessions and bad output with typed codes', () => {
    const base = session('spark.session.yaml')
    const cases: [string, string][] = [
      ['services: 3\n', 'ERR_POLICY_SCONE_INVALID'],
      [base.replace('name: pyspark-nyc-taxi', 'name: "Bad Name!"'), 'ERR_POLICY_SCONE_INVALID'],
      [
        base.replace(/mrenclaves: \["[0-9a-f]+"\]/, 'mrenclaves: ["$DRIVER_MRENCLAVE"]'),
        'ERR_POLICY_INVALID',
      ],
      [base.replace('image_name: spark_image', 'image_name: nope'), 'ERR_POLICY_SCONE_INVALID'],
      ['name: [unclosed', 'ERR_POLICY_YAML'],
    ]
    for (const [yaml, code] of cases)
      assert.equal(
        thrownBy(() => convertSconeSession(yaml, { namespace: 'acme', owners: [OWNER] })).code,
        code,
      )
  })
})
