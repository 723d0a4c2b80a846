import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { containersOf, podSpecOf } from './pods.ts'
import { renderObjects, toYamlStream } from './render.ts'
import { DEFAULT_OPTIONS, type K8sObject, OVERLAYS, type RenderOptions } from './types.ts'
import { validateObject } from './validate-models.ts'

const TESTDATA = join(import.meta.dirname, 'testdata')
const update = process.env.UPDATE_GOLDEN === '1'

function optionsFor(overlay: RenderOptions['overlay']): RenderOptions {
  return { ...DEFAULT_OPTIONS, overlay, replicas: overlay === 'pglite' ? 1 : 3 }
}

const CUSTOM: RenderOptions = {
  overlay: 'sgx',
  namespace: 'analytics',
  replicas: 5,
  image:
    'registry.example/acme/subrosa@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
}

const GOLDEN: [string, RenderOptions][] = [
  ...OVERLAYS.map((o) => [o, optionsFor(o)] as [string, RenderOptions]),
  ['sgx-custom', CUSTOM],
]

describe('k8s render: golden files', () => {
  for (const [name, options] of GOLDEN)
    it(`${name} equals testdata/${name}.yaml (UPDATE_GOLDEN=1 rewrites)`, async () => {
      const yaml = toYamlStream(renderObjects(options))
      const file = join(TESTDATA, `${name}.yaml`)
      if (update) await writeFile(file, yaml)
      assert.equal(
        yaml,
        await readFile(file, 'utf8'),
        `${file} differs: UPDATE_GOLDEN=1 after review`,
      )
    })
})

describe('k8s render: OpenAPI models', () => {
  for (const [name, options] of GOLDEN)
    it(`every object of ${name} validates`, () => {
      const objects = renderObjects(options)
      assert.ok(objects.length >= 10)
      for (const o of objects) validateObject(o)
    })

  it('rejects what the schema forbids, so the check can fail', () => {
    const deployment = renderObjects(optionsFor('base')).find((o) => o.kind === 'Deployment')
    assert.ok(deployment !== undefined)
    const spec = deployment.spec as Record<string, unknown>
    assert.throws(() => validateObject({ ...deployment, spec: { ...spec, replicas: 'three' } }))
    assert.throws(() => validateObject({ ...deployment, spec: { ...spec, selector: undefined } }))
    const pod = podSpecOf(deployment)
    const limits = { 'sgx.intel.com/epc': 'lots' }
    const c = { ...((pod?.containers ?? []) as object[])[0], resources: { limits } }
    const bad = {
      ...deployment,
      spec: { ...spec, template: { spec: { ...pod, containers: [c] } } },
    }
    assert.throws(() => validateObject(bad))
    assert.throws(() => validateObject({ ...deployment, kind: 'Unknown' }))
  })
})

describe('k8s render: content', () => {
  const all = GOLDEN.map(([, o]) => renderObjects(o))

  it('every container runs hardened: non-root, read-only root, no capabilities, seccomp', () => {
    for (const objects of all) {
      const found = containersOf(objects)
      assert.ok(found.length > 0)
      for (const { object, pod, container } of found) {
        const where = `${object.kind}/${object.metadata.name}/${String(container.name)}`
        const sc = container.securityContext as Record<string, unknown>
        const podSc = pod.securityContext as Record<string, unknown>
        assert.equal(sc.runAsNonRoot ?? podSc.runAsNonRoot, true, where)
        assert.notEqual(sc.runAsUser ?? podSc.runAsUser, 0, where)
        assert.equal(sc.readOnlyRootFilesystem, true, where)
        assert.equal(sc.allowPrivilegeEscalation, false, where)
        assert.notEqual(sc.privileged, true, where)
        assert.deepEqual(sc.capabilities, { drop: ['ALL'] }, where)
        const seccomp = (sc.seccompProfile ?? podSc.seccompProfile) as { type?: string }
        assert.equal(seccomp.type, 'RuntimeDefault', where)
        for (const key of ['hostNetwork', 'hostPID', 'hostIPC'])
          assert.notEqual(pod[key], true, where)
        assert.equal(pod.automountServiceAccountToken, false, where)
        assert.ok((container.resources as { limits?: object }).limits !== undefined, where)
      }
    }
  })

  it('the broker is probed over HTTPS on /healthz and /readyz', () => {
    for (const objects of all)
      for (const { object, container } of containersOf(objects)) {
        if (container.name !== 'broker') continue
        const path = (p: unknown) => (p as { httpGet: { path: string; scheme: string } }).httpGet
        assert.deepEqual(
          [path(container.livenessProbe).path, path(container.readinessProbe).path],
          ['/healthz', '/readyz'],
          object.metadata.name,
        )
        assert.equal(path(container.readinessProbe).scheme, 'HTTPS')
      }
  })

  it('carries no Secret objects and takes secret-valued env only from secretKeyRef', () => {
    for (const objects of all) {
      assert.ok(!objects.some((o) => o.kind === 'Secret'))
      for (const { container } of containersOf(objects))
        for (const e of (container.env ?? []) as Record<string, unknown>[]) {
          assert.equal(e.value, undefined, `env ${String(e.name)} has a literal value`)
          assert.ok(
            (e.valueFrom as { secretKeyRef?: unknown }).secretKeyRef !== undefined,
            String(e.name),
          )
        }
    }
    const base = renderObjects(optionsFor('base'))
    const broker = containersOf(base).find((c) => c.container.name === 'broker')
    assert.deepEqual(broker?.container.env, [
      {
        name: 'SUBROSA_POSTGRES',
        valueFrom: { secretKeyRef: { name: 'subrosa-postgres', key: 'url' } },
      },
    ])
  })

  it('base has the PostgreSQL Deployment with N replicas; pglite one StatefulSet with a PVC', () => {
    const kinds = (objects: K8sObject[]) => objects.map((o) => o.kind)
    const base = renderObjects({ ...optionsFor('base'), replicas: 4 })
    const deployment = base.find((o) => o.kind === 'Deployment')
    assert.equal((deployment?.spec as { replicas?: number } | undefined)?.replicas, 4)
    assert.ok(!kinds(base).includes('StatefulSet'))
    const pglite = renderObjects(optionsFor('pglite'))
    assert.ok(!kinds(pglite).includes('Deployment'))
    const sts = pglite.find((o) => o.kind === 'StatefulSet')?.spec as Record<string, unknown>
    assert.equal(sts.replicas, 1)
    assert.equal(
      (sts.volumeClaimTemplates as { metadata: { name: string } }[])[0]?.metadata.name,
      'data',
    )
    assert.ok(!pglite.some((o) => o.metadata.name === 'subrosa-broker-egress-postgres'))
    assert.ok(!JSON.stringify(pglite).includes('SUBROSA_POSTGRES'))
  })

  it('TEE overlays request EPC or pin confidential-VM nodes', () => {
    const text = (o: RenderOptions['overlay']) => JSON.stringify(renderObjects(optionsFor(o)))
    assert.match(text('sgx'), /"sgx\.intel\.com\/epc":"512Mi"/)
    assert.match(text('sgx'), /"kind":"DaemonSet"/)
    assert.match(text('sgx-aks'), /"kubernetes\.azure\.com\/sgx_epc_mem_in_MiB":"512"/)
    assert.doesNotMatch(text('sgx-aks'), /sgx\.intel\.com\/epc/)
    assert.match(
      text('cvm'),
      /"key":"kubernetes\.azure\.com\/security-type","operator":"In","values":\["ConfidentialVM"\]/,
    )
    assert.match(text('cvm'), /cpu-security\.tdx\.protected/)
    assert.match(text('cvm'), /"path":"\/sys\/kernel\/config"/)
    assert.doesNotMatch(text('base'), /sgx|security-type/)
  })

  it('namespaces every namespaced object into --namespace', () => {
    for (const o of renderObjects(CUSTOM))
      if (o.kind !== 'Namespace') assert.match(o.metadata.namespace ?? '', /^analytics(-sgx)?$/)
    assert.match(
      JSON.stringify(renderObjects(CUSTOM)),
      /https:\/\/subrosa-broker\.analytics\.svc:8443/,
    )
  })
})
