// Regenerates the kustomize tree under deploy/ from the renderer (packages/cli/src/k8s), the
// single source of truth (docs/adr/0025-kubernetes-manifests.md). A test fails when they differ.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { DEFAULT_OPTIONS, deployTree, OVERLAYS } from '../packages/cli/src/k8s/index.ts'

const root = join(new URL('..', import.meta.url).pathname, 'deploy')
for (const dir of ['base', 'overlays'])
  if (readdirSync(root, { withFileTypes: true }).some((e) => e.name === dir))
    rmSync(join(root, dir), { recursive: true })
const tree = deployTree(DEFAULT_OPTIONS, OVERLAYS)
for (const [file, text] of tree) {
  mkdirSync(dirname(join(root, file)), { recursive: true })
  writeFileSync(join(root, file), text)
}
console.log(`deploy:gen: wrote ${tree.size} files under deploy/`)
