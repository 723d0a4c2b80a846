import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EXAMPLE_POLICY, OWNER, SIM_V1, thrown } from '../test/fixtures.ts'
import { parsePolicy } from './policy.ts'
import { secretKind } from './schema.ts'

const MRENCLAVE = 'fb3d6144337d55bf02f3580080b86f8885730017a97593aef137f53a7bdeb762'

/** The example with `from` replaced by `to` (which must occur). */
function edit(from: string | RegExp, to: string): string {
  const out = EXAMPLE_POLICY.replace(from, to)
  assert.notEqual(out, EXAMPLE_POLICY, `fixture does not contain ${String(from)}`)
  return out
}

/** The ERR_POLICY_INVALID details of a document. */
function invalid(yaml: string): { path: string; errors: string[] } {
  const error = thrown(() => parsePolicy(yaml))
  assert.equal(error.code, 'ERR_POLICY_INVALID')
  return error.details
}

const otherWorkload = `  - { name: taxi-job, accept: [{ tee: sim, measurement: "${SIM_V1}" }] }\n`

/** [case, document, the path reported first]. */
const cases: [string, string, string][] = [
  ['bad measurement hex', edit(`"${SIM_V1}"`, '"xyz"'), 'workloads[0].accept[2].measurement'],
  [
    'bad hex inside a list',
    edit(`measurement: "${SIM_V1}"`, `measurement: ["${SIM_V1}", "00"]`),
    'workloads[0].accept[2].measurement[1]',
  ],
  ['unquoted digits', edit(`"${SIM_V1}"`, '1'.repeat(96)), 'workloads[0].accept[2].measurement'],
  [
    'short mrenclave',
    edit(`"${MRENCLAVE}"`, `"${MRENCLAVE.slice(2)}"`),
    'workloads[0].accept[1].mrenclave[0]',
  ],
  ['unknown key', edit('debug: deny', 'debug: deny\n    colour: blue'), 'workloads[0].colour'],
  ['typo in a clause', edit('minSvn: 3', 'minSnv: 3'), 'workloads[0].accept[3].minSnv'],
  ['unknown top-level key', `${EXAMPLE_POLICY}extra: 1\n`, 'extra'],
  ['wrong tee', edit('tee: sim # development only', 'tee: sgz'), 'workloads[0].accept[2].tee'],
  ['sim field on sgx', edit('minIsvSvn: 2', 'minSvn: 2'), 'workloads[0].accept[1].minSvn'],
  ['unknown TCB status', edit('tcb: [UpToDate]', 'tcb: [Fine]'), 'workloads[0].accept[0].tcb[0]'],
  ['Revoked accepted', edit('tcb: [UpToDate]', 'tcb: [Revoked]'), 'workloads[0].accept[0].tcb[0]'],
  [
    'no accept clause',
    edit(/accept: # any one[^\n]*\n[\s\S]*?(?= {4}debug:)/, 'accept: []\n'),
    'workloads[0].accept',
  ],
  ['bad debug', edit('debug: deny', 'debug: no'), 'workloads[0].debug'],
  [
    'service name with a space',
    edit('debug: deny', 'debug: deny\n    calls: ["diag nostics"]'),
    'workloads[0].calls[0]',
  ],
  [
    'service called twice',
    edit('debug: deny', 'debug: deny\n    calls: [diagnostics, diagnostics]'),
    'workloads[0].calls[1]',
  ],
  ['duplicate workload', edit('workloads:\n', `workloads:\n${otherWorkload}`), 'workloads[1].name'],
  ['bad workload name', edit('name: taxi-job', 'name: Taxi_Job'), 'workloads[0].name'],
  [
    'template naming an unknown secret',
    edit('{{secret:spark-auth}}', '{{secret:nope}}'),
    'workloads[0].inject.files["/run/subrosa/spark-auth"]',
  ],
  [
    'malformed template',
    edit('{{secret:spark-auth}}', '{{ env:HOME }}'),
    'workloads[0].inject.files["/run/subrosa/spark-auth"]',
  ],
  [
    'raw secret in env',
    edit('SPARK_AUTH_FILE: /run/subrosa/spark-auth', 'RAW: "{{secret:spark-auth:raw}}"'),
    'workloads[0].inject.env.RAW',
  ],
  [
    'bad env name',
    edit('SPARK_AUTH_FILE:', 'spark_auth_file:'),
    'workloads[0].inject.env.spark_auth_file',
  ],
  [
    'file outside /run/subrosa',
    edit('{ /run/subrosa/spark-auth:', '{ /etc/spark-auth:'),
    'workloads[0].inject.files["/etc/spark-auth"]',
  ],
  [
    'file escaping with ..',
    edit('{ /run/subrosa/spark-auth:', '{ /run/subrosa/../etc/x:'),
    'workloads[0].inject.files["/run/subrosa/../etc/x"]',
  ],
  [
    'relative file',
    edit('{ /run/subrosa/spark-auth:', '{ spark-auth:'),
    'workloads[0].inject.files.spark-auth',
  ],
  [
    'the root itself',
    edit('{ /run/subrosa/spark-auth:', '{ /run/subrosa/:'),
    'workloads[0].inject.files["/run/subrosa/"]',
  ],
  [
    'file under another file',
    edit('files: {', 'files: { /run/subrosa/spark-auth/x: "a",'),
    'workloads[0].inject.files["/run/subrosa/spark-auth"]',
  ],
  ['bad key grant', edit('acme/taxi:unwrap', 'acme/taxi:read'), 'workloads[0].keys[0]'],
  ['threshold above keys', edit('threshold: 1', 'threshold: 2'), 'owners.threshold'],
  ['threshold zero', edit('threshold: 1', 'threshold: 0'), 'owners.threshold'],
  ['owner key not a thumbprint URI', edit(OWNER, 'abc'), 'owners.keys[0]'],
  ['duplicate owner key', edit(`- ${OWNER}`, `- ${OWNER}\n    - ${OWNER}`), 'owners.keys[1]'],
  ['bad namespace', edit('namespace: acme', 'namespace: Acme'), 'metadata.namespace'],
  ['long name', edit('name: taxi-analytics', `name: ${'a'.repeat(64)}`), 'metadata.name'],
  [
    'bad predecessor',
    edit('predecessor: null', 'predecessor: "sha256:00"'),
    'metadata.predecessor',
  ],
  ['secret too short', edit('bytes: 32', 'bytes: 8'), 'secrets[0].generate.bytes'],
  ['secret without a source', edit(', generate: { bytes: 32 }', ''), 'secrets[0].generate'],
  [
    'secret with two sources',
    edit('generate: { bytes: 32 }', 'generate: { bytes: 32 }, import: true'),
    'secrets[0]',
  ],
  [
    'unknown key type',
    edit('generate: { bytes: 32 }', 'generate: { type: dsa }'),
    'secrets[0].generate',
  ],
  [
    'rsa bits not offered',
    edit('generate: { bytes: 32 }', 'generate: { type: rsa, bits: 1024 }'),
    'secrets[0].generate.bits',
  ],
  [
    'x509 without a SPIFFE ID',
    edit('generate: { bytes: 32 }', 'generate: { type: x509, uri: "https://acme/x" }'),
    'secrets[0].generate.uri',
  ],
  [
    'x509 SPIFFE ID with ..',
    edit('generate: { bytes: 32 }', 'generate: { type: x509, uri: "spiffe://acme/a/../b" }'),
    'secrets[0].generate.uri',
  ],
  [
    'derive from an undeclared secret',
    edit('secrets:\n', 'secrets:\n  - { name: per-job, derive: { from: nope, info: x } }\n'),
    'secrets[0].derive.from',
  ],
  [
    'derive from a key pair',
    edit(
      'secrets:\n',
      'secrets:\n  - { name: kp, generate: { type: ec } }\n  - { name: per-job, derive: { from: kp, info: x } }\n',
    ),
    'secrets[1].derive.from',
  ],
  [
    'key pair referenced without a part',
    edit('secrets:\n', 'secrets:\n  - { name: kp, generate: { type: ec } }\n').replace(
      '{{secret:spark-auth}}',
      '{{secret:kp}}',
    ),
    'workloads[0].inject.files["/run/subrosa/spark-auth"]',
  ],
  [
    'bytes secret referenced with a part',
    edit('{{secret:spark-auth}}', '{{secret:spark-auth.cert}}'),
    'workloads[0].inject.files["/run/subrosa/spark-auth"]',
  ],
  [
    'raw binary secret in an argument',
    edit('    files:', '    args: ["--auth={{secret:spark-auth:raw}}"]\n      files:'),
    'workloads[0].inject.args[0]',
  ],
  [
    'duplicate secret',
    edit('secrets:\n', 'secrets:\n  - { name: spark-auth, generate: { bytes: 16 } }\n'),
    'secrets[1].name',
  ],
  [
    'grant of an unknown secret',
    edit('secret: spark-auth, to', 'secret: other, to'),
    'grants[0].secret',
  ],
  ['grant to a bad policy ref', edit('to: acme/reporting', 'to: acme'), 'grants[0].to'],
  ['wrong kind', edit('kind: Policy', 'kind: Job'), 'kind'],
]

describe('policy schema violations', () => {
  for (const [name, yaml, path] of cases) {
    it(`${name} -> ${path}`, () => {
      const details = invalid(yaml)
      assert.equal(details.path, path)
      assert.ok(details.errors[0]?.startsWith(`${path}: `), details.errors[0])
    })
  }

  it('reports every violation, each line starting with its path', () => {
    const details = invalid(
      edit('threshold: 1', 'threshold: 2').replace('namespace: acme', 'namespace: ACME'),
    )
    assert.deepEqual(
      details.errors.map((e) => e.slice(0, e.indexOf(': '))),
      ['metadata.namespace', 'owners.threshold'],
    )
    const empty = invalid('apiVersion: subrosa/v2\nkind: Policy\n')
    assert.deepEqual(
      empty.errors.map((e) => e.slice(0, e.indexOf(': '))),
      ['apiVersion', 'metadata', 'owners', 'workloads'],
    )
  })

  it('reports a union (claim rules) by the branch the input was meant for', () => {
    const rules = (r: string) => edit('minIsvSvn: 2', `minIsvSvn: 2\n        rules: ${r}`)
    const both = invalid(rules('{ allOf: [{ claim: isvSvn, equals: 1, exists: true }] }'))
    assert.equal(both.path, 'workloads[0].accept[1].rules.allOf[0]')
    assert.match(both.errors[0] ?? '', /exactly one of/)
    const typo = invalid(rules('{ allOf: [{ claim: isvSvn, greaterOrEqual: 2 }] }'))
    assert.equal(typo.path, 'workloads[0].accept[1].rules.allOf[0].greaterOrEqual')
    const unknown = invalid(rules('{ oneOf: [] }'))
    assert.equal(unknown.path, 'workloads[0].accept[1].rules')
    assert.match(unknown.errors[0] ?? '', /allOf/)
  })

  it('accepts the hardware clause shapes and refuses SEV-SNP tcb with a pointer to minTcb', () => {
    const snp = `{ tee: snp, measurement: "${SIM_V1}", minTcb: { snp: 8 } }`
    const p = parsePolicy(edit(/ {6}- tee: tdx\n(?: {8}[^\n]*\n)+/, `      - ${snp}\n`))
    assert.deepEqual(p.workloads[0]?.accept[0], {
      tee: 'snp',
      measurement: [SIM_V1],
      minTcb: { snp: 8 },
      allowMigrationAgent: false,
      allowSmt: true,
    })
    const details = invalid(
      edit(/ {6}- tee: tdx\n(?: {8}[^\n]*\n)+/, `      - ${snp.slice(0, -2)}, tcb: [UpToDate] }\n`),
    )
    assert.equal(details.path, 'workloads[0].accept[0].tcb')
  })
})

describe('secret kinds', () => {
  it('parses every kind with its defaults, and keeps the original random-bytes form', () => {
    const p = parsePolicy(
      edit(
        'secrets:\n',
        `secrets:
  - { name: sign, generate: { type: ec } }
  - { name: wrap, generate: { type: rsa, bits: 4096 } }
  - name: mtls
    generate: { type: x509, keyType: ec-p384, uri: "spiffe://acme.example/ns/acme/sa/job", dns: [job.acme.svc] }
  - { name: api-token, import: true }
  - { name: per-job, derive: { from: spark-auth, info: "db-password v1" } }
`,
      ).replace(
        '    files:',
        '    args: ["--cert={{secret:mtls.cert:base64}}", "--token={{secret:api-token:hex}}", "--pw={{secret:per-job}}"]\n      files:',
      ),
    )
    const byName = new Map(p.secrets.map((s) => [s.name, s]))
    assert.deepEqual(byName.get('sign')?.generate, { type: 'ec', curve: 'P-256' })
    assert.deepEqual(byName.get('wrap')?.generate, { type: 'rsa', bits: 4096 })
    assert.deepEqual(byName.get('mtls')?.generate, {
      type: 'x509',
      keyType: 'ec-p384',
      uri: 'spiffe://acme.example/ns/acme/sa/job',
      dns: ['job.acme.svc'],
      days: 90,
    })
    assert.deepEqual(byName.get('per-job')?.derive, {
      from: 'spark-auth',
      info: 'db-password v1',
      bytes: 32,
    })
    assert.deepEqual(byName.get('spark-auth'), { name: 'spark-auth', generate: { bytes: 32 } })
    assert.equal(p.workloads[0]?.inject.args?.length, 3)
    assert.deepEqual(
      p.secrets.map((s) => secretKind(s)),
      ['sign', 'wrap', 'mtls', 'api-token', 'per-job', 'spark-auth'].map(
        (n) =>
          ({
            sign: 'ec',
            wrap: 'rsa',
            mtls: 'x509',
            'api-token': 'import',
            'per-job': 'derive',
            'spark-auth': 'bytes',
          })[n],
      ),
    )
  })

  it('leaves inject.args absent when the document has none (hashes of old policies hold)', () => {
    assert.equal(parsePolicy(EXAMPLE_POLICY).workloads[0]?.inject.args, undefined)
  })

  it('leaves calls absent when the document has none, and keeps the services it names', () => {
    assert.equal(parsePolicy(EXAMPLE_POLICY).workloads[0]?.calls, undefined)
    const calls = edit('debug: deny', 'debug: deny\n    calls: [diagnostics, "spiffe://acme/diag"]')
    assert.deepEqual(parsePolicy(calls).workloads[0]?.calls, ['diagnostics', 'spiffe://acme/diag'])
  })
})
