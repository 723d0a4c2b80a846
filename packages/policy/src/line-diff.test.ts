import assert from 'node:assert/strict'
import { test } from 'node:test'
import { lineDiff } from './line-diff.ts'

const render = (a: string, b: string) => lineDiff(a, b).map((l) => `${l.op}${l.text}`)

test('keeps common lines and marks removed and added ones in order', () => {
  assert.deepEqual(render('a\nb\nc\n', 'a\nx\nc\n'), [' a', '-b', '+x', ' c'])
  assert.deepEqual(render('', 'a\n'), ['+a'])
  assert.deepEqual(render('a\n', ''), ['-a'])
  assert.deepEqual(render('a\nb\n', 'a\nb\n'), [' a', ' b'])
})

test('the kept and added lines rebuild the new text; kept and removed rebuild the old', () => {
  let seed = 7
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0
    return seed
  }
  for (let n = 0; n < 200; n++) {
    const a = Array.from({ length: rnd() % 12 }, () => String.fromCharCode(97 + (rnd() % 4)))
    const b = Array.from({ length: rnd() % 12 }, () => String.fromCharCode(97 + (rnd() % 4)))
    const d = lineDiff(a.join('\n'), b.join('\n'))
    assert.deepEqual(
      d.filter((l) => l.op !== '+').map((l) => l.text),
      a,
    )
    assert.deepEqual(
      d.filter((l) => l.op !== '-').map((l) => l.text),
      b,
    )
  }
})
