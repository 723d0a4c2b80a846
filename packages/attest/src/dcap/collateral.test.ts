import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { vectorText } from '../x509/test-vectors.ts'
import { collateralFromDcapQvlJson, extractSignedObject } from './collateral.ts'
import { parseQeIdentity } from './qe-identity.ts'
import { parseTcbInfo } from './tcb-info.ts'
import { dcapVector } from './test-fixtures.ts'

const COLLATERAL = { code: 'ERR_ATTEST_COLLATERAL' }

describe('extractSignedObject', () => {
  it('cuts the exact bytes of the signed object, whatever the layout', () => {
    const inner = '{"a":"}{\\"","b":[{"c":1}],"d":{"e":"x"}}'
    const bodies = [
      `{"tcbInfo":${inner},"signature":"ab"}`,
      `{ "signature" : "ab" ,\n  "tcbInfo" :  ${inner}  }`,
      `\n{"signature":"ab","tcbInfo":${inner}}\n`,
    ]
    for (const body of bodies)
      assert.deepEqual(extractSignedObject(body, 'tcbInfo'), { raw: inner, signature: 'ab' })
  })

  it('refuses bodies that are not exactly {key, signature}', () => {
    for (const body of [
      'nope',
      '[]',
      '{"tcbInfo":{}}',
      '{"tcbInfo":{},"signature":"ab","x":1}',
      '{"tcbInfo":[],"signature":"ab"}',
      '{"tcbInfo":{},"signature":1}',
      '{"tcbInfo":{"a":1},"tcbInfo":{"a":2},"signature":"ab"}',
      '{"enclaveIdentity":{},"signature":"ab"}',
    ]) {
      assert.throws(() => extractSignedObject(body, 'tcbInfo'), COLLATERAL, body)
    }
  })

  it('matches the PCS bodies of go-tdx-guest and trustee', (t) => {
    if (dcapVector(t, 'goV4') === undefined || dcapVector(t, 'trustee6') === undefined) return
    for (const [file, key] of [
      ['go-tdx-guest/sample_tcbInfo_response', 'tcbInfo'],
      ['go-tdx-guest/sample_qeIdentity_response', 'enclaveIdentity'],
      ['trustee/tcbInfo.json', 'tcbInfo'],
    ] as const) {
      const body = vectorText(file)
      const { raw, signature } = extractSignedObject(body, key)
      assert.ok(body.includes(raw))
      assert.deepEqual(JSON.parse(raw), JSON.parse(body)[key])
      assert.equal(signature.length, 128)
    }
  })
})

describe('collateralFromDcapQvlJson', () => {
  it('reads the dcap-qvl files and refuses missing or malformed fields', (t) => {
    const v = dcapVector(t, 'sgx')
    if (v === undefined) return
    const text = vectorText('dcap-qvl/sgx_quote_collateral.json')
    const c = collateralFromDcapQvlJson(text)
    assert.equal(c.rootCaCrl?.[0], 0x30)
    assert.ok(c.tcbInfo.startsWith('{"id":"SGX"'))
    const json = JSON.parse(text) as Record<string, string>
    assert.throws(() => collateralFromDcapQvlJson('{'), COLLATERAL)
    assert.throws(() => collateralFromDcapQvlJson('[]'), COLLATERAL)
    assert.throws(() => collateralFromDcapQvlJson(JSON.stringify({ ...json, pck_crl: 'zz' })), {
      ...COLLATERAL,
      details: { field: 'pck_crl' },
    })
    const { tcb_info: _, ...without } = json
    assert.throws(() => collateralFromDcapQvlJson(JSON.stringify(without)), {
      ...COLLATERAL,
      details: { field: 'tcb_info' },
    })
  })
})

describe('TCB Info and QE Identity schemas', () => {
  it('parse v3 SGX/TDX and a v2 SGX TCB Info; refuse anything off-schema', (t) => {
    const sgx = dcapVector(t, 'sgx')
    const tdx = dcapVector(t, 'tdx')
    if (sgx === undefined || tdx === undefined) return
    const info = parseTcbInfo(sgx.collateral.tcbInfo)
    assert.deepEqual(
      [info.id, info.version, info.levels.length, info.fmspc],
      ['SGX', 3, 11, '00a067110000'],
    )
    const tdxInfo = parseTcbInfo(tdx.collateral.tcbInfo)
    assert.deepEqual(
      tdxInfo.tdxModuleIdentities?.map((m) => m.id),
      ['TDX_03', 'TDX_01'],
    )
    const o = JSON.parse(sgx.collateral.tcbInfo)
    // A v2 rendering of the same levels.
    const v2 = {
      version: 2,
      issueDate: o.issueDate,
      nextUpdate: o.nextUpdate,
      fmspc: o.fmspc,
      pceId: o.pceId,
      tcbType: 0,
      tcbEvaluationDataNumber: o.tcbEvaluationDataNumber,
      tcbLevels: o.tcbLevels.map(
        (l: { tcb: { sgxtcbcomponents: { svn: number }[]; pcesvn: number } }) => ({
          ...l,
          tcb: {
            ...Object.fromEntries(
              l.tcb.sgxtcbcomponents.map((c, i) => [
                `sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`,
                c.svn,
              ]),
            ),
            pcesvn: l.tcb.pcesvn,
          },
        }),
      ),
    }
    const parsedV2 = parseTcbInfo(JSON.stringify(v2))
    assert.deepEqual(
      parsedV2.levels.map((l) => l.status),
      info.levels.map((l) => l.status),
    )
    const bad = (mutate: (x: Record<string, unknown>) => void, path: string) => {
      const copy = JSON.parse(sgx.collateral.tcbInfo)
      mutate(copy)
      assert.throws(() => parseTcbInfo(JSON.stringify(copy)), { ...COLLATERAL, details: { path } })
    }
    bad((x) => {
      x.extra = 1
    }, 'tcbInfo.extra')
    bad((x) => {
      x.version = 4
    }, 'tcbInfo.version')
    bad((x) => {
      x.id = 'SEV'
    }, 'tcbInfo.id')
    bad((x) => {
      x.issueDate = '2025-13-01T00:00:00Z'
    }, 'tcbInfo.issueDate')
    bad((x) => {
      x.fmspc = '00A0671100'
    }, 'tcbInfo.fmspc')
    bad((x) => {
      x.tcbType = 1
    }, 'tcbInfo.tcbType')
    bad((x) => {
      x.tdxModule = {}
    }, 'tcbInfo.tdxModule')
    bad((x) => {
      ;(x.tcbLevels as { tcbStatus: string }[])[0] = {
        ...(x.tcbLevels as object[])[0],
        tcbStatus: 'Fine',
      } as never
    }, 'tcbInfo.tcbLevels[0].tcbStatus')
    bad((x) => {
      ;(
        (x.tcbLevels as { tcb: { sgxtcbcomponents: unknown[] } }[])[0] as {
          tcb: { sgxtcbcomponents: unknown[] }
        }
      ).tcb.sgxtcbcomponents.pop()
    }, 'tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents')
    bad((x) => {
      x.tcbLevels = []
    }, 'tcbInfo.tcbLevels')
    assert.throws(() => parseTcbInfo('not json'), COLLATERAL)
  })

  it('parse QE Identity v2 and refuse anything off-schema', (t) => {
    const tdx = dcapVector(t, 'tdx')
    if (tdx === undefined) return
    const qe = parseQeIdentity(tdx.collateral.qeIdentity)
    assert.deepEqual(
      [qe.id, qe.isvProdId, qe.miscselectMask, qe.levels[0]?.isvSvn],
      ['TD_QE', 2, 0xffffffff, 4],
    )
    for (const [key, value] of [
      ['id', 'XX'],
      ['version', 3],
      ['mrsigner', 'abcd'],
      ['isvprodid', -1],
      ['extra', true],
      [
        'tcbLevels',
        [{ tcb: { isvsvn: 1 }, tcbDate: '2024-01-01T00:00:00Z', tcbStatus: 'SWHardeningNeeded' }],
      ],
    ] as const) {
      const copy = { ...JSON.parse(tdx.collateral.qeIdentity), [key]: value }
      assert.throws(() => parseQeIdentity(JSON.stringify(copy)), COLLATERAL, key)
    }
  })
})
