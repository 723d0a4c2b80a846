import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { fromUtf8, utf8 } from '@subrosa/core'
import { renderTemplate, templateSecretNames } from './templates.ts'

const secret = new Uint8Array([0xde, 0xad, 0xbe, 0xef])
const lookup = (name: string) => {
  if (name !== 's') throw new Error('unknown')
  return secret
}

describe('templates', () => {
  it('renders raw into whole files, base64 by default in env, and explicit encodings', () => {
    assert.deepEqual(renderTemplate('{{secret:s}}', { lookup, target: 'file' }), secret)
    assert.equal(fromUtf8(renderTemplate('{{secret:s}}', { lookup, target: 'env' })), '3q2+7w==')
    assert.equal(
      fromUtf8(renderTemplate('key={{ secret:s:hex }};', { lookup, target: 'file' })),
      'key=deadbeef;',
    )
    assert.equal(fromUtf8(renderTemplate('plain', { lookup, target: 'env' })), 'plain')
    assert.deepEqual(templateSecretNames('{{secret:a}}{{secret:b:hex}}{{secret:a}}'), ['a', 'b'])
  })

  it('refuses raw bytes in env or inside text, and unknown references', () => {
    assert.throws(() => renderTemplate('{{secret:s:raw}}', { lookup, target: 'env' }), {
      code: 'ERR_POLICY_TEMPLATE',
    })
    assert.throws(() => renderTemplate('x{{secret:s}}', { lookup, target: 'file' }), {
      code: 'ERR_POLICY_TEMPLATE',
    })
    assert.throws(() => renderTemplate('{{env:HOME}}', { lookup, target: 'file' }), {
      code: 'ERR_POLICY_TEMPLATE',
    })
    assert.deepEqual(
      renderTemplate('x{{secret:s:base64}}', { lookup, target: 'file' }),
      utf8('x3q2+7w=='),
    )
  })
})
