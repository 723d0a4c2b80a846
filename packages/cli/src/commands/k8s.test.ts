import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { main } from '../cli.ts'
import { DEFAULT_OPTIONS, OVERLAYS, renderObjects, toYamlStream } from '../k8s/index.ts'
import { capture } from '../testing/capture.ts'

async function render(args: string[], env: Record<string, string> = {}) {
  const io = { ...capture(), env }
  const code = await main(['k8s', 'render', ...args], io)
  return { code, out: io.stdout.join(''), err: io.stderr.join('') }
}

describe('subrosa k8s render', () => {
  it('prints the overlay as multi-document YAML equal to the renderer', async () => {
    const r = await render(['--overlay', 'sgx', '--namespace', 'acme', '--replicas', '2'])
    assert.equal(r.code, 0, r.err)
    const options = { ...DEFAULT_OPTIONS, overlay: 'sgx' as const, namespace: 'acme', replicas: 2 }
    assert.equal(r.out, toYamlStream(renderObjects(options)).trimEnd())
    assert.ok(parseAllDocuments(r.out).length > 10)
    assert.match(r.err, /not pinned by digest/)
  })

  it('--json lists the objects; -o writes a kustomize directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'subrosa-k8s-'))
    try {
      const r = await render(['--overlay', 'pglite', '-o', dir, '--json'])
      assert.equal(r.code, 0, r.err)
      const result = JSON.parse(r.out) as {
        replicas: number
        objects: { kind: string }[]
        files: string[]
      }
      assert.equal(result.replicas, 1)
      assert.ok(result.objects.some((o) => o.kind === 'StatefulSet'))
      const files = await readdir(dir)
      assert.ok(files.includes('kustomization.yaml'))
      assert.equal(files.length, result.objects.length + 1)
      assert.match(
        await readFile(join(dir, 'statefulset-subrosa-broker.yaml'), 'utf8'),
        /kind: StatefulSet/,
      )
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('never prints secret values from the environment', async () => {
    const env = {
      SUBROSA_POSTGRES: 'postgres://broker:Fake-Db-Password-7731@db.internal:5432/subrosa',
      PGPASSWORD: 'Fake-Db-Password-7731',
      SUBROSA_UNSEAL_KEY: 'ZmFrZS1yb290LWtleS1mYWtlLXJvb3Qta2V5LWZha2U=',
      SUBROSA_UNSEAL_KEY_FILE: '/tmp/fake-unseal.key',
    }
    for (const overlay of OVERLAYS) {
      const r = await render(['--overlay', overlay, '--json'], env)
      assert.equal(r.code, 0, r.err)
      for (const value of ['Fake-Db-Password-7731', 'ZmFrZS1yb290', 'db.internal', 'fake-unseal'])
        assert.ok(!`${r.out}${r.err}`.includes(value), `${overlay} prints ${value}`)
      assert.doesNotMatch(r.out, /(stringData|\bdata\b)":\s*\{[^}]*password/i)
    }
  })

  it('refuses bad flags with ERR_CLI_USAGE', async () => {
    for (const args of [
      ['--overlay', 'gke'],
      ['--replicas', '0'],
      ['--replicas', 'three'],
      ['--replicas', '101'],
      ['--overlay', 'pglite', '--replicas', '2'],
      ['--namespace', 'Bad_NS'],
      ['--namespace', 'x'.repeat(54)],
      ['--image', 'not a ref'],
      ['--image', 'Registry/UPPER:tag'],
      ['extra-positional'],
    ]) {
      const r = await render([...args, '--json'])
      assert.equal(r.code, 2, args.join(' '))
      const error = (JSON.parse(r.out) as { error: { code: string } }).error
      assert.equal(error.code, 'ERR_CLI_USAGE', args.join(' '))
    }
  })

  it('accepts a digest-pinned image without a note', async () => {
    const image = `registry.example:5000/acme/subrosa:1.2.3@sha256:${'a'.repeat(64)}`
    const r = await render(['--image', image])
    assert.equal(r.code, 0, r.err)
    assert.equal(r.err, '')
    assert.match(r.out, new RegExp(`image: ${image.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`))
  })
})
