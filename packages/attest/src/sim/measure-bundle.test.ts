import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, it } from 'node:test'
import { toHex, utf8 } from '@subrosa/core'
import { measureBundle } from './measure-bundle.ts'

describe('measureBundle', () => {
  const files = [
    { path: 'job.yaml', bytes: utf8('query: select 1\n') },
    { path: 'sql/extra.sql', bytes: utf8('select 2') },
  ]

  it('is SHA-384 over a documented, order-independent serialization', () => {
    const expected = createHash('sha384')
      .update('subrosa-bundle-v1\0')
      .update(Buffer.from('00000008', 'hex'))
      .update('job.yaml')
      .update(Buffer.from('0000000000000010', 'hex'))
      .update('query: select 1\n')
      .update(Buffer.from('0000000d', 'hex'))
      .update('sql/extra.sql')
      .update(Buffer.from('0000000000000008', 'hex'))
      .update('select 2')
      .digest('hex')
    assert.equal(toHex(measureBundle(files)), expected)
    assert.equal(toHex(measureBundle([...files].reverse())), expected)
  })

  it('changes when one byte, a path or the file set changes', () => {
    const base = toHex(measureBundle(files))
    const flipped = utf8('query: select 1\n')
    flipped[3] = (flipped[3] as number) ^ 1
    assert.notEqual(
      toHex(measureBundle([{ path: 'job.yaml', bytes: flipped }, files[1] as (typeof files)[1]])),
      base,
    )
    assert.notEqual(
      toHex(
        measureBundle([
          { ...(files[0] as (typeof files)[0]), path: 'job.yml' },
          files[1] as (typeof files)[1],
        ]),
      ),
      base,
    )
    assert.notEqual(toHex(measureBundle([files[0] as (typeof files)[0]])), base)
  })

  it('refuses paths that could alias', () => {
    for (const path of ['/etc/passwd', '../x', 'a//b', './a', '']) {
      assert.throws(() => measureBundle([{ path, bytes: new Uint8Array() }]), {
        code: 'ERR_ATTEST_MALFORMED',
      })
    }
    assert.throws(
      () => measureBundle([files[0] as (typeof files)[0], files[0] as (typeof files)[0]]),
      { code: 'ERR_ATTEST_MALFORMED' },
    )
  })
})
