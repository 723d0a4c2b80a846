import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { isSubrosaError } from '@subrosa/core'
import { type Job, parseJob, validateJob } from '@subrosa/policy'
import { parse } from 'yaml'
import { REQUIRED_SECURITY_CONF, SPARK_SECRET_DIR, SPARK_SECRET_FILE } from './defaults.ts'
import { type Manifest, manifestsYaml, renderSpark, type SparkRenderOptions } from './render.ts'
import { validateManifests } from './validate.ts'

const FIXTURES = new URL('../../fixtures/spark/', import.meta.url)
const JOB = parseJob(readFileSync(new URL('taxi-fares.job.yaml', FIXTURES), 'utf8'))
const BASE: SparkRenderOptions = {
  image: 'subrosa/spark:0.1.0',
  namespace: 'analytics',
  executors: 3,
  broker: 'https://subrosa-broker.subrosa.svc:8443',
  rawPod: false,
}

/** Compare with a golden file; UPDATE_GOLDEN=1 rewrites it. */
function golden(name: string, text: string): void {
  const url = new URL(name, FIXTURES)
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(url, text)
  assert.equal(text, readFileSync(url, 'utf8'), `${name} differs (UPDATE_GOLDEN=1 rewrites it)`)
}

type Container = {
  name: string
  command: string[]
  env?: unknown[]
  volumeMounts: { name: string; mountPath: string }[]
}
type PodSpec = {
  containers: Container[]
  volumes: { name: string; emptyDir?: { medium?: string } }[]
}

/** Every Spark configuration a rendering carries, with the pod specs that run Spark. */
function configurations(manifests: readonly Manifest[]) {
  const confs: Record<string, string>[] = []
  const pods: { role: string; spec: PodSpec }[] = []
  for (const m of manifests) {
    if (m.kind === 'SparkApplication') {
      const spec = m.spec as {
        sparkConf: Record<string, string>
        driver: { template: { spec: PodSpec } }
        executor: { template: { spec: PodSpec } }
      }
      confs.push(spec.sparkConf)
      pods.push({ role: 'driver', spec: spec.driver.template.spec })
      pods.push({ role: 'executor', spec: spec.executor.template.spec })
    } else if (m.kind === 'Pod') pods.push({ role: 'driver', spec: m.spec as PodSpec })
    else if (m.kind === 'ConfigMap') {
      const data = m.data as Record<string, string>
      const props = data['spark.properties']
      if (props !== undefined)
        confs.push(
          Object.fromEntries(
            props
              .trim()
              .split('\n')
              .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
          ),
        )
      const template = data['executor-template.yaml']
      if (template !== undefined)
        pods.push({ role: 'executor', spec: (parse(template) as { spec: PodSpec }).spec })
    }
  }
  return { confs, pods }
}

const VARIANTS: SparkRenderOptions[] = [
  BASE,
  { ...BASE, rawPod: true },
  { ...BASE, executors: 1, namespace: 'default', image: 'registry.example/spark@sha256:abc' },
  { ...BASE, executors: 40, rawPod: true, broker: 'https://broker.example:443' },
  { ...BASE, workload: 'acme/other-policy/spark-job' },
  {
    ...BASE,
    tee: {
      resources: { 'sgx.intel.com/epc': '8Gi', 'sgx.intel.com/enclave': '1' },
      nodeSelector: { 'kubernetes.azure.com/sgx': 'true' },
    },
  },
  { ...BASE, rawPod: true, tee: { runtimeClassName: 'kata-cc-tdx' } },
]

describe('subrosa spark render', () => {
  it('pins the SparkApplication and the raw driver pod (golden files)', () => {
    golden('taxi-fares.operator.yaml', manifestsYaml(renderSpark(JOB, BASE)))
    golden('taxi-fares.raw-pod.yaml', manifestsYaml(renderSpark(JOB, { ...BASE, rawPod: true })))
  })

  it('sets every security default in every rendered configuration', () => {
    for (const options of VARIANTS) {
      const manifests = renderSpark(JOB, options)
      validateManifests(manifests)
      const { confs, pods } = configurations(manifests)
      assert.equal(confs.length, 1, 'one Spark configuration per rendering')
      for (const conf of confs) {
        for (const [key, value] of Object.entries(REQUIRED_SECURITY_CONF))
          assert.equal(conf[key], value, `${key} in ${JSON.stringify(options)}`)
        // Exactly the values the issue asks for, written out rather than imported.
        assert.equal(conf['spark.network.crypto.cipher'], 'AES/GCM/NoPadding')
        assert.equal(conf['spark.io.encryption.keySizeBits'], '256')
        assert.equal(conf['spark.network.crypto.saslFallback'], 'false')
        assert.equal(conf['spark.ui.enabled'], 'false')
        assert.equal(conf['spark.hadoop.parquet.encryption.kms.instance.url'], options.broker)
        assert.equal(conf['spark.hadoop.parquet.encryption.footer.key'], 'acme/taxi-results')
        assert.equal(conf['spark.authenticate.secret'], undefined)
      }
      assert.equal(pods.length, 2, 'a driver and an executor pod spec')
      for (const { role, spec } of pods) {
        const [c] = spec.containers
        assert.ok(c !== undefined)
        const split = c.command.indexOf('--')
        assert.deepEqual(
          c.command.slice(0, 3),
          ['/opt/subrosa/bin/subrosa', 'launch', '--spark-entrypoint'],
          role,
        )
        assert.ok(split > 0, `${role}: the Spark command follows --`)
        const own = c.command.slice(0, split)
        assert.equal(own[own.indexOf('--secret-file') + 1], SPARK_SECRET_FILE, role)
        assert.equal(own[own.indexOf('--policy') + 1], options.workload ?? JOB.policy, role)
        assert.equal(
          own.includes('--end-job'),
          role === 'driver',
          `${role}: only the driver ends the job`,
        )
        const mount = c.volumeMounts.find((v) => v.mountPath === SPARK_SECRET_DIR)
        const volume = spec.volumes.find((v) => v.name === mount?.name)
        assert.equal(volume?.emptyDir?.medium, 'Memory', `${role}: the secret dir is in memory`)
      }
    }
  })

  it('puts the TEE resources, node selector and runtime class on every Spark pod', () => {
    for (const rawPod of [false, true]) {
      const tee = {
        resources: { 'sgx.intel.com/epc': '8Gi' },
        nodeSelector: { pool: 'sgx' },
        runtimeClassName: 'kata-cc-tdx',
      }
      const manifests = renderSpark(JOB, { ...BASE, rawPod, tee })
      validateManifests(manifests)
      const { pods } = configurations(manifests)
      assert.equal(pods.length, 2)
      for (const { spec } of pods) {
        const s = spec as PodSpec & { nodeSelector?: unknown; runtimeClassName?: unknown }
        assert.deepEqual(s.nodeSelector, { pool: 'sgx' })
        assert.equal(s.runtimeClassName, 'kata-cc-tdx')
        const c = s.containers[0] as Container & { resources?: unknown }
        assert.deepEqual(c.resources, {
          requests: { 'sgx.intel.com/epc': '8Gi' },
          limits: { 'sgx.intel.com/epc': '8Gi' },
        })
      }
    }
    const bad = renderSpark(JOB, { ...BASE, tee: { resources: { 'sgx.intel.com/epc': 'lots' } } })
    assert.throws(
      () => validateManifests(bad),
      (e: unknown) => isSubrosaError(e) && e.code === 'ERR_SPARK_MANIFEST',
    )
  })

  it('renders no secret value: no Secret, secretKeyRef, inline auth secret or host env', () => {
    const sentinel = 'c2VjcmV0LXNlbnRpbmVsLXZhbHVlLTEyMzQ1Njc4OTA='
    const previous = process.env.SPARK_AUTHENTICATE_SECRET
    process.env.SPARK_AUTHENTICATE_SECRET = sentinel
    try {
      for (const options of VARIANTS) {
        const text = manifestsYaml(renderSpark(JOB, options))
        assert.equal(text.includes(sentinel), false)
        for (const forbidden of [
          /kind: Secret\b/,
          /secretKeyRef/,
          /secretRef/,
          /spark\.authenticate\.secret[=:]\s/,
          /SPARK_AUTHENTICATE_SECRET/,
          /\bsecret:\s/,
          /BEGIN [A-Z ]*PRIVATE KEY/,
          /"(d|k)":\s*"/,
          /[A-Za-z0-9+/]{40,}={0,2}/,
        ])
          assert.doesNotMatch(text, forbidden, JSON.stringify(options))
      }
    } finally {
      if (previous === undefined) delete process.env.SPARK_AUTHENTICATE_SECRET
      else process.env.SPARK_AUTHENTICATE_SECRET = previous
    }
  })

  it('translates the query and binds parameters by name', () => {
    const [configMap] = renderSpark(JOB, BASE) as [Manifest]
    const plan = JSON.parse((configMap.data as Record<string, string>)['plan.json'] ?? '')
    assert.deepEqual(plan.parameters, { min_fare: 2.5 })
    assert.equal(
      plan.outputs[0].sql,
      "SELECT `zone`, count(*) AS n, round(avg(fare), 2) AS avg_fare\nFROM trips WHERE fare >= :min_fare AND note <> 'it\\'s'\nGROUP BY `zone`",
    )
    assert.deepEqual(plan.views, [
      {
        name: 'trips',
        path: 'abfss://lake@acmelake.dfs.core.windows.net/trips/',
        masterKeyId: 'acme/taxi',
      },
    ])
  })

  const refuse = (job: Job, code: string, path?: string) => {
    assert.throws(
      () => renderSpark(job, BASE),
      (e: unknown) =>
        isSubrosaError(e) &&
        e.code === code &&
        (path === undefined || e.details?.path === path || e.details?.construct === path),
    )
  }
  const RAW = parse(readFileSync(new URL('taxi-fares.job.yaml', FIXTURES), 'utf8')) as object
  const edit = (change: Record<string, unknown>) => validateJob({ ...RAW, ...change })
  const trips = (input: object) => edit({ inputs: { trips: input } })
  const fares = (output: object) => edit({ outputs: { fares: output } })

  it('refuses inputs and outputs Spark cannot handle confidentially, naming them', () => {
    const lake = 'abfss://a@b.dfs.core.windows.net'
    const no = 'ERR_SPARK_UNSUPPORTED'
    refuse(trips({ format: 'csv', uri: `${lake}/t.csv.srsa` }), no, 'inputs.trips')
    refuse(trips({ format: 'jsonl', uri: `${lake}/t.jsonl.srsa` }), no, 'inputs.trips')
    refuse(trips({ format: 'delta', uri: `${lake}/t` }), no, 'inputs.trips')
    refuse(trips({ format: 'parquet', uri: 'lake/trips.parquet' }), no, 'inputs.trips.uri')
    refuse(
      trips({ format: 'parquet', uri: 's3a://b/t', aadPrefix: 'x' }),
      no,
      'inputs.trips.aadPrefix',
    )
    const key = 'acme/taxi-results'
    refuse(
      fares({ format: 'postgres', uri: 'postgres://app@db/x', table: 'fares', key }),
      no,
      'outputs.fares',
    )
    refuse(fares({ format: 'csv', uri: 's3a://b/f.csv', key }), no, 'outputs.fares')
    refuse(fares({ format: 'parquet', uri: 'file:///tmp/f.parquet', key }), no, 'outputs.fares.uri')
  })

  it('refuses SQL it cannot translate, naming the construct', () => {
    refuse(
      edit({ query: "SELECT * FROM read_parquet('x.parquet')" }),
      'ERR_SPARK_SQL',
      'the function read_parquet()',
    )
    refuse(edit({ query: 'SELECT fare::INTEGER FROM trips' }), 'ERR_SPARK_SQL', 'a :: cast')
    refuse(
      edit({ query: 'SELECT fare FROM trips WHERE fare > $undeclared' }),
      'ERR_SPARK_SQL',
      '$undeclared',
    )
  })

  it('refuses a rendered manifest that does not validate', () => {
    const [configMap, app] = renderSpark(JOB, BASE) as [Manifest, Manifest]
    const spec = app.spec as {
      executor: Record<string, unknown>
      sparkConf: Record<string, unknown>
    }
    const bad = (m: Manifest) =>
      assert.throws(
        () => validateManifests([configMap, m]),
        (e: unknown) => isSubrosaError(e) && e.code === 'ERR_SPARK_MANIFEST',
      )
    bad({ ...app, spec: { ...spec, executor: { ...spec.executor, instances: 'three' } } })
    bad({
      ...app,
      spec: { ...spec, sparkConf: { ...spec.sparkConf, 'spark.executor.instances': 3 } },
    })
    bad({ ...app, spec: { ...spec, executor: { ...spec.executor, instance: 3 } } })
    const [rawConfigMap, pod] = renderSpark(JOB, { ...BASE, rawPod: true }) as [Manifest, Manifest]
    const data = rawConfigMap.data as Record<string, string>
    const template = String(data['executor-template.yaml']).replace(
      'name: spark-kubernetes-executor',
      'name: 42',
    )
    assert.throws(
      () =>
        validateManifests([
          { ...rawConfigMap, data: { ...data, 'executor-template.yaml': template } },
        ]),
      (e: unknown) => isSubrosaError(e) && e.code === 'ERR_SPARK_MANIFEST',
    )
    const podSpec = pod.spec as { containers: Record<string, unknown>[] }
    bad({
      ...pod,
      spec: {
        ...podSpec,
        containers: [
          { ...podSpec.containers[0], resources: { limits: { 'sgx.intel.com/epc': 'ten' } } },
        ],
      },
    })
  })
})
