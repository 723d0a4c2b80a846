// RFC 6902 add / replace / remove over plain JSON data: the subset kustomize's `patches`
// entries use in deploy/overlays, applied the same way here so both renderings agree.
import type { JsonPatchOp } from './types.ts'

/** Thrown when a patch does not fit the document (a bug in an overlay, caught by tests). */
export class JsonPatchError extends Error {
  override readonly name = 'JsonPatchError'
}

function pointer(path: string): string[] {
  if (!path.startsWith('/')) throw new JsonPatchError(`Patch path ${path} must start with /`)
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'))
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function index(list: unknown[], token: string, path: string, allowEnd: boolean): number {
  if (token === '-' && allowEnd) return list.length
  if (!/^(0|[1-9][0-9]*)$/.test(token)) throw new JsonPatchError(`Bad array index in ${path}`)
  const i = Number(token)
  if (i > list.length || (!allowEnd && i === list.length))
    throw new JsonPatchError(`Index out of range in ${path}`)
  return i
}

/**
 * Apply operations to a deep copy of `document` and return it.
 *
 * @example applyJsonPatch({ a: [1] }, [{ op: 'add', path: '/a/-', value: 2 }]) // { a: [1, 2] }
 * @throws JsonPatchError when a path's parent is missing, an index is out of range, or a
 * replaced or removed member does not exist.
 */
export function applyJsonPatch<T>(document: T, ops: readonly JsonPatchOp[]): T {
  const root = structuredClone(document) as unknown
  for (const op of ops) {
    const tokens = pointer(op.path)
    const last = tokens.pop()
    if (last === undefined) throw new JsonPatchError('Patching the whole document is not supported')
    let parent: unknown = root
    for (const t of tokens) {
      if (Array.isArray(parent)) parent = parent[index(parent, t, op.path, false)]
      else if (isRecord(parent) && t in parent) parent = parent[t]
      else throw new JsonPatchError(`Path ${op.path} does not exist`)
    }
    const value = op.op === 'remove' ? undefined : structuredClone(op.value)
    if (Array.isArray(parent)) {
      const i = index(parent, last, op.path, op.op === 'add')
      if (op.op === 'add') parent.splice(i, 0, value)
      else if (op.op === 'replace') parent[i] = value
      else parent.splice(i, 1)
    } else if (isRecord(parent)) {
      if (op.op !== 'add' && !(last in parent))
        throw new JsonPatchError(`Path ${op.path} does not exist`)
      if (op.op === 'remove') delete parent[last]
      else parent[last] = value
    } else throw new JsonPatchError(`Path ${op.path} does not exist`)
  }
  return root as T
}
