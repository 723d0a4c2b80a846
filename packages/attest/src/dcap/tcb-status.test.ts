// Intel's TCB algorithm on synthetic TCB Infos: each status, TDX module identity, convergence
// with module and QE status, TD 1.5 relaunch.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TcbStatus } from '../claims.ts'
import type { IsvLevel } from './json-schema.ts'
import type { QeIdentity } from './qe-identity.ts'
import { parseTdReportBody, TD10_REPORT_SIZE, TD15_REPORT_SIZE } from './report-body.ts'
import type { TcbInfo, TcbLevel, TdxModuleIdentity } from './tcb-info.ts'
import { computeTcbStatus, qeTcbLevel, type TcbInput } from './tcb-status.ts'

const date = new Date('2025-01-01T00:00:00Z')
const comps = (first: number, rest = 0) => [first, ...Array<number>(15).fill(rest)]
const level = (
  sgx: number,
  pce: number,
  status: TcbStatus,
  tdx?: number[],
  advisoryIds: string[] = [],
): TcbLevel => ({
  sgxComponents: comps(sgx),
  pceSvn: pce,
  ...(tdx === undefined ? {} : { tdxComponents: tdx }),
  tcbDate: date,
  status,
  advisoryIds,
})
const qe = (status: TcbStatus, advisoryIds: string[] = []): IsvLevel => ({
  isvSvn: 4,
  tcbDate: date,
  status,
  advisoryIds,
})
const zero = (n: number) => new Uint8Array(n)
const moduleIdentity = (id: string, levels: IsvLevel[]): TdxModuleIdentity => ({
  id,
  mrSigner: zero(48),
  attributes: zero(8),
  attributesMask: new Uint8Array(8).fill(0xff),
  levels,
})

function tcbInfo(levels: TcbLevel[], identities?: TdxModuleIdentity[]): TcbInfo {
  const tdx = levels[0]?.tdxComponents !== undefined
  return {
    id: tdx ? 'TDX' : 'SGX',
    version: 3,
    issueDate: date,
    nextUpdate: date,
    fmspc: '00a067110000',
    pceId: '0000',
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    levels,
    ...(tdx
      ? {
          tdxModule: {
            mrSigner: zero(48),
            attributes: zero(8),
            attributesMask: new Uint8Array(8).fill(0xff),
          },
        }
      : {}),
    ...(identities === undefined ? {} : { tdxModuleIdentities: identities }),
  }
}

/** A TD report with TEE_TCB_SVN (and TEE_TCB_SVN2 for TD 1.5), other fields zero or patched. */
function td(svn: number[], svn2?: number[], patch: (b: Uint8Array) => void = () => {}) {
  const bytes = new Uint8Array(svn2 === undefined ? TD10_REPORT_SIZE : TD15_REPORT_SIZE)
  bytes.set(svn, 0)
  if (svn2 !== undefined) bytes.set(svn2, 584)
  patch(bytes)
  const kind = svn2 === undefined ? ('td10' as const) : ('td15' as const)
  return { report: parseTdReportBody(bytes, kind === 'td10' ? '1.0' : '1.5'), kind }
}

function run(input: Partial<TcbInput> & Pick<TcbInput, 'tcbInfo'>) {
  return computeTcbStatus({
    quoteVersion: 4,
    pck: { components: comps(5), pceSvn: 13 },
    qe: qe('UpToDate'),
    ...input,
  })
}

const SGX_LEVELS = [
  level(9, 13, 'UpToDate', undefined, ['SA-1']),
  level(8, 13, 'SWHardeningNeeded', undefined, ['SA-2']),
  level(7, 13, 'ConfigurationNeeded'),
  level(6, 13, 'ConfigurationAndSWHardeningNeeded', undefined, ['SA-3', 'SA-1']),
  level(5, 13, 'OutOfDate'),
  level(4, 13, 'OutOfDateConfigurationNeeded'),
  level(3, 13, 'Revoked'),
]

describe('TCB status: SGX', () => {
  it('gives the status of the first level the PCK reaches', () => {
    const expected: TcbStatus[] = [
      'UpToDate',
      'SWHardeningNeeded',
      'ConfigurationNeeded',
      'ConfigurationAndSWHardeningNeeded',
      'OutOfDate',
      'OutOfDateConfigurationNeeded',
      'Revoked',
    ]
    expected.forEach((status, i) => {
      const result = run({
        tcbInfo: tcbInfo(SGX_LEVELS),
        pck: { components: comps(9 - i), pceSvn: 13 },
      })
      assert.equal(result.status, status)
    })
    assert.deepEqual(
      run({ tcbInfo: tcbInfo(SGX_LEVELS), pck: { components: comps(6), pceSvn: 13 } }).advisoryIds,
      ['SA-1', 'SA-3'],
    )
  })

  it('needs every component and the PCESVN; nothing reached is not supported', () => {
    const info = tcbInfo([level(5, 13, 'UpToDate'), level(5, 10, 'OutOfDate')])
    assert.equal(
      run({ tcbInfo: info, pck: { components: comps(5), pceSvn: 12 } }).status,
      'OutOfDate',
    )
    const info2 = tcbInfo([{ ...level(5, 13, 'UpToDate'), sgxComponents: comps(5, 1) }])
    assert.throws(() => run({ tcbInfo: info2, pck: { components: comps(9), pceSvn: 13 } }), {
      code: 'ERR_ATTEST_TCB_NOT_SUPPORTED',
    })
    assert.throws(() => run({ tcbInfo: info, pck: { components: comps(5), pceSvn: 9 } }), {
      code: 'ERR_ATTEST_TCB_NOT_SUPPORTED',
    })
  })

  it('converges with the QE status and unions advisories', () => {
    const info = tcbInfo(SGX_LEVELS)
    const at = (sgx: number, q: IsvLevel) =>
      run({ tcbInfo: info, pck: { components: comps(sgx), pceSvn: 13 }, qe: q })
    assert.equal(at(9, qe('OutOfDate')).status, 'OutOfDate')
    assert.equal(at(8, qe('OutOfDate')).status, 'OutOfDate')
    assert.equal(at(7, qe('OutOfDate')).status, 'OutOfDateConfigurationNeeded')
    assert.equal(at(6, qe('OutOfDate')).status, 'OutOfDateConfigurationNeeded')
    assert.equal(at(9, qe('Revoked')).status, 'Revoked')
    const result = at(8, qe('OutOfDate', ['SA-9', 'SA-2']))
    assert.equal(result.platformStatus, 'SWHardeningNeeded')
    assert.deepEqual(result.advisoryIds, ['SA-2', 'SA-9'])
  })

  it('finds the QE level or reports the QE as not supported', () => {
    const identity = {
      levels: [
        { ...qe('UpToDate'), isvSvn: 8 },
        { ...qe('OutOfDate'), isvSvn: 6 },
      ],
    } as unknown as QeIdentity
    assert.equal(qeTcbLevel(identity, 9).status, 'UpToDate')
    assert.equal(qeTcbLevel(identity, 6).status, 'OutOfDate')
    assert.throws(() => qeTcbLevel(identity, 5), {
      code: 'ERR_ATTEST_TCB_NOT_SUPPORTED',
      details: { stage: 'qe', qeSvn: 5 },
    })
  })
})

const TDX_UP = [5, 0, 2, ...Array<number>(13).fill(0)]

describe('TCB status: TDX', () => {
  it('module major 0: tdxModule identity, all 16 TDX components compared', () => {
    const info = tcbInfo([
      level(5, 13, 'UpToDate', TDX_UP),
      level(5, 13, 'OutOfDate', [3, 0, 1, ...Array<number>(13).fill(0)]),
    ])
    assert.equal(run({ tcbInfo: info, td: td([5, 0, 2]) }).status, 'UpToDate')
    assert.equal(run({ tcbInfo: info, td: td([4, 0, 2]) }).status, 'OutOfDate')
    assert.throws(() => run({ tcbInfo: info, td: td([2, 0, 2]) }), {
      code: 'ERR_ATTEST_TCB_NOT_SUPPORTED',
      details: { stage: 'tdx' },
    })
    assert.throws(
      () =>
        run({
          tcbInfo: info,
          td: td([5, 0, 2], undefined, (b) => {
            b[64] = 1
          }),
        }),
      { code: 'ERR_ATTEST_TDX_MODULE' },
    )
    assert.throws(
      () =>
        run({
          tcbInfo: info,
          td: td([5, 0, 2], undefined, (b) => {
            b[112] = 1
          }),
        }),
      { code: 'ERR_ATTEST_TDX_MODULE' },
    )
    assert.equal(run({ tcbInfo: info, td: td([5, 0, 2]) }).tdxModule?.identity, undefined)
  })

  it('module major > 0: bytes 0..1 graded by TDX_0x, its mismatch and its levels', () => {
    const identities = [
      moduleIdentity('TDX_01', [
        { ...qe('UpToDate', ['SA-M']), isvSvn: 6 },
        { ...qe('OutOfDate'), isvSvn: 4 },
        { ...qe('Revoked'), isvSvn: 2 },
      ]),
    ]
    const info = tcbInfo(
      [
        level(5, 13, 'UpToDate', TDX_UP),
        level(5, 13, 'ConfigurationNeeded', [0, 0, 1, ...Array<number>(13).fill(0)]),
      ],
      identities,
    )
    const up = run({ tcbInfo: info, td: td([6, 1, 2]) })
    assert.equal(up.status, 'UpToDate')
    assert.deepEqual(up.tdxModule, { major: 1, svn: 6, identity: 'TDX_01' })
    assert.deepEqual(up.advisoryIds, ['SA-M'])
    assert.equal(run({ tcbInfo: info, td: td([4, 1, 2]) }).status, 'OutOfDate')
    assert.equal(run({ tcbInfo: info, td: td([4, 1, 1]) }).status, 'OutOfDateConfigurationNeeded')
    assert.equal(run({ tcbInfo: info, td: td([2, 1, 2]) }).status, 'Revoked')
    assert.throws(() => run({ tcbInfo: info, td: td([1, 1, 2]) }), {
      code: 'ERR_ATTEST_TCB_NOT_SUPPORTED',
      details: { stage: 'module', identity: 'TDX_01' },
    })
    assert.throws(() => run({ tcbInfo: info, td: td([6, 3, 2]) }), {
      code: 'ERR_ATTEST_TDX_MODULE',
      details: { identity: 'TDX_03' },
    })
    assert.throws(
      () =>
        run({
          tcbInfo: info,
          td: td([6, 1, 2], undefined, (b) => {
            b[70] = 9
          }),
        }),
      { code: 'ERR_ATTEST_TDX_MODULE' },
    )
    // The SGX level alone does not decide: the walk goes on to a level the TDX part reaches.
    assert.equal(run({ tcbInfo: info, td: td([6, 1, 1]) }).status, 'ConfigurationNeeded')
  })

  it('TD 1.5 relaunch: advised when TEE_TCB_SVN2 reaches the latest level', () => {
    const identities = [
      moduleIdentity('TDX_01', [
        { ...qe('UpToDate'), isvSvn: 6 },
        { ...qe('OutOfDate'), isvSvn: 4 },
      ]),
    ]
    const info = tcbInfo(
      [
        level(5, 13, 'UpToDate', TDX_UP),
        level(5, 13, 'ConfigurationNeeded', [0, 0, 1, ...Array<number>(13).fill(0)]),
      ],
      identities,
    )
    const relaunch = run({ tcbInfo: info, quoteVersion: 5, td: td([4, 1, 2], [6, 1, 2]) })
    assert.equal(relaunch.status, 'TDRelaunchAdvised')
    assert.equal(relaunch.platformStatus, 'TDRelaunchAdvised')
    assert.equal(
      run({ tcbInfo: info, quoteVersion: 5, td: td([4, 1, 1], [6, 1, 2]) }).status,
      'TDRelaunchAdvisedConfigurationNeeded',
    )
    assert.equal(
      run({ tcbInfo: info, quoteVersion: 5, td: td([4, 1, 2], [5, 1, 2]) }).status,
      'OutOfDate',
    )
    assert.equal(
      run({ tcbInfo: info, quoteVersion: 5, td: td([4, 1, 2], [6, 1, 1]) }).status,
      'OutOfDate',
    )
    // TEE_TCB_SVN2 major 0: graded by the latest TDX components 0 and 2.
    assert.equal(
      run({ tcbInfo: info, quoteVersion: 5, td: td([4, 1, 2], [5, 0, 2]) }).status,
      'TDRelaunchAdvised',
    )
    // Not when the QE is out of date, nor for TD 1.0, nor when the module is up to date.
    assert.equal(
      run({ tcbInfo: info, quoteVersion: 5, td: td([4, 1, 2], [6, 1, 2]), qe: qe('OutOfDate') })
        .status,
      'OutOfDate',
    )
    assert.equal(run({ tcbInfo: info, td: td([4, 1, 2]) }).status, 'OutOfDate')
    assert.equal(
      run({ tcbInfo: info, quoteVersion: 5, td: td([6, 1, 2], [6, 1, 2]) }).status,
      'UpToDate',
    )
  })
})
