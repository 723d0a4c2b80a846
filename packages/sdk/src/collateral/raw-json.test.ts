import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { crlDates, crlDer } from './der.ts'
import { rawMembers } from './raw-json.ts'
import { haveVectors, readVector } from './test-support.ts'

describe('raw JSON members', () => {
  it('returns each top-level value exactly as written', () => {
    const inner = '{ "a" : "}{\\"]" ,\n\t"b":[1, {"c":"\\\\"}], "d": null }'
    const text = ` {"tcbInfo":${inner} , "signature" : "ab\\u0063", "n":-1.5e3,"t":true}\n`
    const members = rawMembers(text, 'body')
    assert.equal(members.get('tcbInfo'), inner)
    assert.equal(members.get('signature'), '"ab\\u0063"')
    assert.equal(members.get('n'), '-1.5e3')
    assert.equal(members.get('t'), 'true')
    assert.deepEqual([...rawMembers('{}', 'body').keys()], [])
    assert.deepEqual([...rawMembers('{"k\\"ey":{}}', 'body').keys()], ['k"ey'])
  })

  it('refuses text that is not a JSON object, or repeats a key', () => {
    for (const text of [
      '',
      '[]',
      '"x"',
      '{"a":1',
      '{"a":1}{',
      '{"a":1,"a":2}',
      '{"\\u0061":1,"a":2}',
    ]) {
      assert.throws(() => rawMembers(text, 'body'), { code: 'ERR_SDK_RESPONSE' })
    }
  })
})

describe('CRL dates', () => {
  it('reads thisUpdate and nextUpdate of a real CRL, DER or hex', (t) => {
    if (!haveVectors(t, 'go-tdx-guest/rootcrl.der')) return
    const der = readVector('go-tdx-guest/rootcrl.der')
    const dates = {
      thisUpdate: new Date('2023-04-03T10:22:51Z'),
      nextUpdate: new Date('2024-04-02T10:22:51Z'),
    }
    assert.deepEqual(crlDates(der), dates)
    const hex = crlDer(new TextEncoder().encode(Buffer.from(der).toString('hex')))
    assert.deepEqual(hex && crlDates(hex), dates)
    assert.equal(crlDates(der.subarray(0, der.length - 1)), undefined)
    assert.equal(crlDates(new Uint8Array([0x30, 0x00])), undefined)
    assert.equal(crlDer(new TextEncoder().encode('garbage')), undefined)
  })
})
