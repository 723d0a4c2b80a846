import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toHex } from '@subrosa/core'
import {
  type AeSqlType,
  type AeValue,
  decodeAeValue,
  encodeAeValue,
  formatAeSqlType,
  parseAeSqlType,
} from './values.ts'

const t = (text: string): AeSqlType => parseAeSqlType(text)

describe('Always Encrypted value normalization', () => {
  it('encodes each type as SQL Server normalizes it', () => {
    const cases: [string, AeValue, string][] = [
      ['bigint', 42n, '2a00000000000000'],
      ['bigint', -2n, 'feffffffffffffff'],
      ['int', 258, '0201000000000000'],
      ['smallint', -1, 'ffffffffffffffff'],
      ['tinyint', 255, 'ff00000000000000'],
      ['bit', true, '0100000000000000'],
      ['bit', false, '0000000000000000'],
      ['float', 1.5, '000000000000f83f'],
      ['real', 1.5, '0000c03f'],
      ['nvarchar', 'val_determ_1', '760061006c005f00640065007400650072006d005f003100'],
      ['nvarchar', 'é', 'e900'],
      ['varbinary', new Uint8Array([1, 2, 255]), '0102ff'],
      // days since 0001-01-01, 3 bytes little-endian
      ['date', '0001-01-02', '010000'],
      ['date', '2024-01-01', '45460b'],
      // time in 10^-scale seconds (5 bytes for scale 6/7), then the date
      ['datetime2(6)', '0001-01-01 00:00:01.000002', '42420f0000000000'],
      ['datetime2(0)', '0001-01-02 00:01:00', '3c0000010000'],
      // sign (1 positive, 0 negative) then the unscaled value in 16 bytes little-endian
      ['decimal(10,2)', '-1.5', `00${'96'}${'00'.repeat(15)}`],
      ['decimal(10,2)', '0.01', `01${'01'}${'00'.repeat(15)}`],
      ['decimal(38,0)', '1', `01${'01'}${'00'.repeat(15)}`],
    ]
    for (const [type, value, expected] of cases) {
      const bytes = encodeAeValue(t(type), value)
      assert.equal(toHex(bytes), expected, `${type} ${String(value)}`)
    }
  })

  it('reads back what it writes, in canonical form', () => {
    const cases: [string, AeValue, AeValue][] = [
      ['bigint', 9007199254740993n, 9007199254740993n],
      ['bigint', '-9223372036854775808', -9223372036854775808n],
      ['int', '7', 7],
      ['bit', 'true', true],
      ['float', -0.25, -0.25],
      ['nvarchar', 'Zone, 1 ☃', 'Zone, 1 ☃'],
      ['date', '9999-12-31', '9999-12-31'],
      ['date', '1970-01-01', '1970-01-01'],
      ['datetime2(6)', '2024-02-29T23:59:59.123456', '2024-02-29 23:59:59.123456'],
      ['datetime2(7)', '2024-01-01 00:00:00', '2024-01-01 00:00:00.0000000'],
      ['decimal(18,3)', '-12.5', '-12.500'],
      ['decimal(18,3)', '0', '0.000'],
      [
        'decimal(38,0)',
        '99999999999999999999999999999999999999',
        '99999999999999999999999999999999999999',
      ],
      ['decimal(5,5)', '.12345', '0.12345'],
    ]
    for (const [type, value, expected] of cases)
      assert.deepEqual(decodeAeValue(t(type), encodeAeValue(t(type), value)), expected, type)
  })

  it('refuses values that do not fit their type', () => {
    const bad: [string, AeValue][] = [
      ['tinyint', 256],
      ['int', 2 ** 31],
      ['bigint', 1.5],
      ['bigint', 2n ** 63n],
      ['bit', 'maybe'],
      ['float', 'x'],
      ['nvarchar', 5],
      ['varbinary', 'abc'],
      ['date', '2023-02-29'],
      ['date', '0000-12-31'],
      ['datetime2(3)', '2024-01-01 00:00:00.0001'],
      ['datetime2(3)', '2024-01-01 24:00:00'],
      ['decimal(4,2)', '100.00'],
      ['decimal(4,2)', '1.001'],
      ['decimal(4,2)', '1e3'],
    ]
    for (const [type, value] of bad)
      assert.throws(
        () => encodeAeValue(t(type), value),
        { code: 'ERR_AE_VALUE' },
        `${type} ${String(value)}`,
      )
    assert.throws(() => decodeAeValue(t('bigint'), new Uint8Array(4)), { code: 'ERR_AE_VALUE' })
    assert.throws(() => decodeAeValue(t('nvarchar'), new Uint8Array(3)), { code: 'ERR_AE_VALUE' })
    assert.throws(() => decodeAeValue(t('bit'), new Uint8Array(8).fill(2)), {
      code: 'ERR_AE_VALUE',
    })
    assert.throws(() => decodeAeValue(t('decimal(10,2)'), new Uint8Array(17).fill(3)), {
      code: 'ERR_AE_VALUE',
    })
  })

  it('parses and formats the type names kept in column metadata', () => {
    for (const text of ['bigint', 'nvarchar', 'datetime2(6)', 'decimal(18,2)', 'date', 'bit'])
      assert.equal(formatAeSqlType(parseAeSqlType(text)), text)
    assert.equal(formatAeSqlType(parseAeSqlType('numeric(10)')), 'decimal(10,0)')
    for (const text of ['uuid', 'decimal(39,0)', 'decimal(2,3)', 'datetime2(8)', 'text'])
      assert.throws(() => parseAeSqlType(text), { code: 'ERR_AE_UNSUPPORTED_TYPE' }, text)
  })
})
