import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { applyJsonPatch, JsonPatchError } from './json-patch.ts'

describe('applyJsonPatch', () => {
  const doc = { a: { 'x/y': 1, list: [1, 2] } }

  it('adds, replaces and removes members and array items (RFC 6902)', () => {
    const out = applyJsonPatch(doc, [
      { op: 'add', path: '/a/new', value: { k: 'v' } },
      { op: 'replace', path: '/a/x~1y', value: 2 },
      { op: 'add', path: '/a/list/-', value: 3 },
      { op: 'add', path: '/a/list/0', value: 0 },
      { op: 'remove', path: '/a/list/1' },
    ])
    assert.deepEqual(out, { a: { 'x/y': 2, list: [0, 2, 3], new: { k: 'v' } } })
    assert.deepEqual(doc, { a: { 'x/y': 1, list: [1, 2] } }, 'the input is not modified')
  })

  it('refuses paths that do not fit, as kustomize does', () => {
    for (const op of [
      { op: 'replace', path: '/a/missing', value: 1 },
      { op: 'remove', path: '/a/missing' },
      { op: 'add', path: '/b/c', value: 1 },
      { op: 'add', path: '/a/list/5', value: 1 },
      { op: 'replace', path: '/a/list/-', value: 1 },
      { op: 'add', path: 'a', value: 1 },
    ] as const)
      assert.throws(() => applyJsonPatch(doc, [op]), JsonPatchError, op.path)
  })
})
