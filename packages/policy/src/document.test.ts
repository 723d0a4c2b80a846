import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EXAMPLE_JOB, EXAMPLE_POLICY, thrown } from '../test/fixtures.ts'
import { formatPath, MAX_DEPTH } from './document.ts'
import { parseJob } from './job.ts'
import { parsePolicy, validatePolicy } from './policy.ts'

const yamlError = (text: string) => {
  const error = thrown(() => parsePolicy(text))
  assert.equal(error.code, 'ERR_POLICY_YAML')
  return error.details
}

describe('YAML loading', () => {
  it('reports syntax errors with line and column', () => {
    assert.deepEqual(yamlError('kind: Policy\nworkloads: [a, b\nsecrets: []\n'), {
      line: 3,
      column: 1,
    })
    assert.deepEqual(yamlError('kind: Policy\nmetadata:\n  name: x\n   namespace: y\n'), {
      line: 3,
      column: 9,
    })
    const job = thrown(() => parseJob('kind: Job\nquery: x\nquery: y\n'))
    assert.deepEqual([job.code, job.details.line, job.details.column], ['ERR_JOB_YAML', 3, 1])
  })

  it('refuses duplicate keys and several documents in one stream', () => {
    assert.equal(yamlError('kind: Policy\nkind: Policy\n').line, 2)
    const second = EXAMPLE_POLICY.split('\n').length
    assert.deepEqual(yamlError(`${EXAMPLE_POLICY}---\nkind: Policy\n`), { line: second, column: 1 })
  })

  it('refuses alias bombs', () => {
    const levels = 'abcdefghij'
    const bomb = [
      'a: &a [x, x, x, x, x, x, x, x, x]',
      ...[...levels.slice(1)].map(
        (l, i) => `${l}: &${l} [${Array(9).fill(`*${levels[i]}`).join(', ')}]`,
      ),
    ].join('\n')
    assert.throws(() => parsePolicy(bomb), { code: 'ERR_POLICY_YAML' })
  })

  it('refuses documents over 1 MiB, counted in UTF-8 bytes', () => {
    assert.throws(() => parsePolicy(`a: "${'x'.repeat(1 << 20)}"`), {
      code: 'ERR_POLICY_YAML',
      details: { limit: 1 << 20 },
    })
    assert.throws(() => parsePolicy(`a: "${'é'.repeat(1 << 19)}"`), { code: 'ERR_POLICY_YAML' })
    assert.throws(() => parseJob(`a: "${'x'.repeat(1 << 20)}"`), { code: 'ERR_JOB_YAML' })
  })

  it('reads YAML 1.2 only: no %YAML 1.1 (yes/no booleans, merge keys), no custom or 1.1 tags', () => {
    assert.equal(yamlError('%YAML 1.1\n---\ndebug: yes\n').line, 1)
    assert.deepEqual(yamlError('a: !!binary aGVsbG8=\n'), { line: 1, column: 4 })
    assert.deepEqual(yamlError('a: !!js/function "x"\n'), { line: 1, column: 4 })
    assert.deepEqual(yamlError('a: !custom x\n'), { line: 1, column: 4 })
    // Without merge keys `<<` is an ordinary (unknown) key, caught by the schema.
    const merged = thrown(() =>
      parsePolicy(EXAMPLE_POLICY.replace('debug: deny', '<<: { debug: allow }')),
    )
    assert.deepEqual(
      [merged.code, merged.details.path],
      ['ERR_POLICY_INVALID', 'workloads[0]["<<"]'],
    )
  })

  it('refuses non-scalar mapping keys before loading them', () => {
    assert.deepEqual(yamlError('a: 1\n? [b]\n: 1\n'), { line: 2, column: 3 })
  })

  it('refuses cyclic aliases, deep nesting and __proto__ keys with their paths', () => {
    const cyclic = EXAMPLE_POLICY.replace('debug: deny', 'debug: deny\n    x: &x [*x]')
    const cycle = thrown(() => parsePolicy(cyclic))
    assert.deepEqual([cycle.code, cycle.details.path], ['ERR_POLICY_INVALID', 'workloads[0].x[0]'])
    let deep: unknown = 1
    for (let i = 0; i < MAX_DEPTH + 5; i++) deep = { allOf: [deep] }
    const tooDeep = thrown(() => validatePolicy({ rules: deep }))
    assert.equal(tooDeep.code, 'ERR_POLICY_INVALID')
    assert.match(tooDeep.details.path, /^rules(\.allOf\[0\])+(\.allOf)?$/)
    const proto = thrown(() =>
      parseJob(
        EXAMPLE_JOB.replace('inputs:\n', 'inputs:\n  __proto__: { format: parquet, uri: x }\n'),
      ),
    )
    assert.deepEqual([proto.code, proto.details.path], ['ERR_JOB_INVALID', 'inputs.__proto__'])
  })

  it('refuses a cyclic claim rule that the schema alone would accept', () => {
    const rule = EXAMPLE_POLICY.replace(
      'minIsvSvn: 2',
      'minIsvSvn: 2\n        rules: &r { allOf: [*r] }',
    )
    const error = thrown(() => parsePolicy(rule))
    assert.deepEqual(
      [error.code, error.details.path],
      ['ERR_POLICY_INVALID', 'workloads[0].accept[1].rules.allOf[0]'],
    )
  })
})

describe('formatPath', () => {
  it('writes identifiers with dots, indexes and other keys in brackets', () => {
    assert.equal(formatPath([]), '(document)')
    assert.equal(
      formatPath(['workloads', 0, 'accept', 1, 'measurement']),
      'workloads[0].accept[1].measurement',
    )
    assert.equal(
      formatPath(['inject', 'files', '/run/subrosa/a']),
      'inject.files["/run/subrosa/a"]',
    )
    assert.equal(formatPath(['grants', 0, 'to']), 'grants[0].to')
  })
})
