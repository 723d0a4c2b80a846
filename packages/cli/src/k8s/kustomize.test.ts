import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, it } from 'node:test'
import { parseAllDocuments } from 'yaml'
import { deployTree, objectKey, renderObjects } from './render.ts'
import { DEFAULT_OPTIONS, type K8sObject, OVERLAYS } from './types.ts'
import { validateObject } from './validate-models.ts'

const DEPLOY = join(import.meta.dirname, '../../../../deploy')
const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' })
const kustomizeMajor = Number(/Kustomize Version: v(\d+)/.exec(kubectl.stdout ?? '')?.[1] ?? 0)
const noKubectl =
  kubectl.status !== 0
    ? 'kubectl is not installed: kustomize builds are not checked'
    : kustomizeMajor < 5
      ? 'kubectl embeds kustomize older than v5: kustomize builds are not checked'
      : false

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(DEPLOY, join(e.parentPath, e.name)))
    .sort()
}

function byKey(objects: readonly K8sObject[]): Map<string, K8sObject> {
  return new Map(objects.map((o) => [objectKey(o), o]))
}

describe('deploy/ is the renderer output', () => {
  it('every committed file equals deploy:gen output, and there are no others', () => {
    const tree = deployTree(DEFAULT_OPTIONS, OVERLAYS)
    const committed = filesUnder(DEPLOY).filter(
      (f) => f.startsWith('base/') || f.startsWith('overlays/'),
    )
    assert.deepEqual(committed, [...tree.keys()].sort(), 'run npm run deploy:gen')
    for (const [file, text] of tree)
      assert.equal(
        readFileSync(join(DEPLOY, file), 'utf8'),
        text,
        `${file}: run npm run deploy:gen`,
      )
  })
})

describe('committed manifests hold no secret material', () => {
  const SECRET_SHAPES = [
    /postgres(ql)?:\/\/[^\s:@/]+:[^\s@/]+@/i, // a URL with a password
    /-----BEGIN [A-Z ]*PRIVATE KEY-----/,
    /^kind: Secret$/m,
    /^\s*(stringData|data):\s*\n\s+[\w.-]*(password|key|token)[\w.-]*:/im,
    /\b[A-Za-z0-9+/]{43}=/, // 32 bytes in base64, the size of an unseal key
  ]

  it('no file under deploy/ or testdata/ looks like a secret value', () => {
    const testdata = join(import.meta.dirname, 'testdata')
    const files = [
      ...filesUnder(DEPLOY).map((f) => join(DEPLOY, f)),
      ...readdirSync(testdata).map((f) => join(testdata, f)),
    ]
    assert.ok(files.length > 30)
    for (const file of files) {
      const text = readFileSync(file, 'utf8')
      for (const shape of SECRET_SHAPES) assert.doesNotMatch(text, shape, file)
    }
  })

  it('the patterns catch what they are for', () => {
    for (const [sample, i] of [
      ['url: postgres://broker:s3cret@db:5432/x', 0],
      ['kind: Secret\n', 2],
      ['stringData:\n  db-password: x', 3],
      ['ZmFrZS1yb290LWtleS1mYWtlLXJvb3Qta2V5LWZha2U=', 4],
    ] as const)
      assert.match(sample, SECRET_SHAPES[i] as RegExp)
  })
})

describe('kubectl kustomize builds every overlay', { skip: noKubectl }, () => {
  for (const overlay of OVERLAYS)
    it(`deploy/${overlay === 'base' ? 'base' : `overlays/${overlay}`} builds the renderer's objects`, () => {
      const dir = join(DEPLOY, overlay === 'base' ? 'base' : `overlays/${overlay}`)
      const run = spawnSync('kubectl', ['kustomize', dir], {
        encoding: 'utf8',
        env: { ...process.env, KUBECONFIG: '/nonexistent' },
      })
      assert.equal(run.status, 0, run.stderr)
      const built = parseAllDocuments(run.stdout).map((d) => d.toJS() as K8sObject)
      for (const o of built) validateObject(o)
      const options = { ...DEFAULT_OPTIONS, overlay, replicas: overlay === 'pglite' ? 1 : 3 }
      const expected = byKey(renderObjects(options))
      const actual = byKey(built)
      assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort())
      for (const [key, o] of expected) assert.deepEqual(actual.get(key), o, key)
    })
})
