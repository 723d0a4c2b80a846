import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fromUtf8, utf8 } from '@subrosa/core'
import { parseTemplate, renderTemplate, templateProblem, templateSecretNames } from './templates.ts'

const secret = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 0x00, 0xff])
const other = utf8('pw')
const lookup = (name: string): Uint8Array => {
  if (name === 's') return secret
  if (name === 'other') return other
  throw new Error(`unknown secret ${name}`)
}
const file = { lookup, target: 'file' } as const
const env = { lookup, target: 'env' } as const

describe('renderTemplate', () => {
  it('renders a whole-file reference as the raw bytes, and as base64 in env', () => {
    assert.deepEqual(renderTemplate('{{secret:s}}', file), secret)
    assert.deepEqual(renderTemplate('{{secret:s:raw}}', file), secret)
    assert.equal(fromUtf8(renderTemplate('{{secret:s}}', env)), '3q2+7wD/')
  })

  it('renders explicit encodings, inside UTF-8 text too', () => {
    assert.equal(fromUtf8(renderTemplate('{{secret:s:hex}}', env)), 'deadbeef00ff')
    assert.equal(fromUtf8(renderTemplate('{{secret:s:base64}}', file)), '3q2+7wD/')
    assert.equal(
      fromUtf8(renderTemplate('user=ü {{ secret:other:base64 }};key={{secret:s:hex}}\n', file)),
      'user=ü cHc=;key=deadbeef00ff\n',
    )
    assert.equal(fromUtf8(renderTemplate('pass={{secret:other}}', env)), 'pass=cHc=')
    assert.equal(fromUtf8(renderTemplate('plain text, no secrets', env)), 'plain text, no secrets')
    assert.deepEqual(renderTemplate('', file), new Uint8Array())
  })

  it('refuses raw bytes in env and raw bytes inside text', () => {
    for (const [template, options] of [
      ['{{secret:s:raw}}', env],
      ['x{{secret:s}}', file],
      ['{{secret:s}}\n', file],
      ['{{secret:s}}{{secret:other}}', file],
    ] as const)
      assert.throws(
        () => renderTemplate(template, options),
        { code: 'ERR_POLICY_TEMPLATE' },
        template,
      )
  })

  it('refuses references it does not know and unterminated ones', () => {
    for (const template of [
      '{{env:HOME}}',
      '{{secret:s:utf8}}',
      '{{secret:Bad_Name}}',
      '{{secret:}}',
      '{{secret:s}',
      'a {{ b',
      '{{secret:s\n}}',
    ])
      assert.throws(() => renderTemplate(template, file), { code: 'ERR_POLICY_TEMPLATE' }, template)
  })

  it('does not call lookup when the template is refused', () => {
    let called = false
    const spy = (): Uint8Array => {
      called = true
      return secret
    }
    assert.throws(() => renderTemplate('{{secret:s:raw}}', { lookup: spy, target: 'env' }))
    assert.equal(called, false)
  })
})

describe('template analysis', () => {
  it('lists the secrets a template names, once each, in order', () => {
    assert.deepEqual(templateSecretNames('{{secret:a}}{{secret:b:hex}}{{secret:a}}'), ['a', 'b'])
    assert.deepEqual(templateSecretNames('no references'), [])
    assert.throws(() => templateSecretNames('{{nope}}'), { code: 'ERR_POLICY_TEMPLATE' })
  })

  it('splits a template into text and references', () => {
    assert.deepEqual(parseTemplate('a{{secret:s:hex}}b'), [
      { text: 'a' },
      { secret: 's', encoding: 'hex' },
      { text: 'b' },
    ])
  })

  it('explains why a template does not fit its target', () => {
    assert.equal(templateProblem('{{secret:s}}', 'file'), undefined)
    assert.match(templateProblem('{{secret:s:raw}}', 'env') ?? '', /env/)
    assert.match(templateProblem('x{{secret:s}}', 'file') ?? '', /whole file/)
  })
})

describe('template parts and args', () => {
  const pem = utf8('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')
  const parts = (name: string, part: string | undefined): Uint8Array => {
    if (name === 'tls' && part === 'cert') return pem
    if (name === 's' && part === undefined) return secret
    throw new Error(`unknown ${name}.${part}`)
  }

  it('parses a part reference', () => {
    assert.deepEqual(parseTemplate('{{secret:tls.cert}}'), [
      { secret: 'tls', part: 'cert', encoding: undefined },
    ])
    assert.deepEqual(templateSecretNames('{{secret:tls.private}} {{secret:tls.ca:hex}}'), ['tls'])
  })

  it('renders PEM parts as text anywhere, binary secrets as base64 in args', () => {
    const arg = { lookup: parts, target: 'arg' } as const
    assert.equal(fromUtf8(renderTemplate('{{secret:tls.cert}}', arg)), fromUtf8(pem))
    assert.equal(
      fromUtf8(renderTemplate('cert={{secret:tls.cert}}', { lookup: parts, target: 'env' })),
      `cert=${fromUtf8(pem)}`,
    )
    assert.equal(fromUtf8(renderTemplate('--k={{secret:s}}', arg)), '--k=3q2+7wD/')
    assert.equal(
      fromUtf8(renderTemplate('{{secret:tls.cert:base64}}', arg)),
      Buffer.from(pem).toString('base64'),
    )
  })

  it('refuses raw binary secrets in args and unknown parts', () => {
    assert.match(templateProblem('{{secret:s:raw}}', 'arg') ?? '', /arguments/)
    assert.throws(() => parseTemplate('{{secret:tls.key}}'), { code: 'ERR_POLICY_TEMPLATE' })
  })
})

describe('text encoding', () => {
  it('writes UTF-8 values verbatim in env, args and inside text', () => {
    const lookup = (name: string): Uint8Array => (name === 'tok' ? utf8('sv=2020&sig=ü') : secret)
    assert.equal(
      fromUtf8(renderTemplate('{{secret:tok:text}}', { lookup, target: 'env' })),
      'sv=2020&sig=ü',
    )
    assert.equal(
      fromUtf8(renderTemplate('--t={{secret:tok:text}};', { lookup, target: 'arg' })),
      '--t=sv=2020&sig=ü;',
    )
    assert.equal(templateProblem('x={{secret:tok:text}}', 'file'), undefined)
  })

  it('refuses values that are not NUL-free UTF-8, without echoing them', () => {
    const lookup = (): Uint8Array => secret // has 0x00 and 0xff
    assert.throws(
      () => renderTemplate('{{secret:s:text}}', { lookup, target: 'env' }),
      (e: Error) => {
        assert.equal((e as { code?: string }).code, 'ERR_POLICY_TEMPLATE')
        assert.ok(!e.message.includes('deadbeef') && !e.message.includes('3q2+'))
        return true
      },
    )
    const invalid = (): Uint8Array => new Uint8Array([0x41, 0xc3])
    assert.throws(() => renderTemplate('{{secret:s:text}}', { lookup: invalid, target: 'arg' }), {
      code: 'ERR_POLICY_TEMPLATE',
    })
  })
})
