import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { SgxClaims, SnpClaims, TdxClaims } from '@subrosa/attest'
import { evaluatePolicy } from './evaluate.ts'
import { parsePolicy } from './policy.ts'

const OWNER = `urn:ietf:params:oauth:jwk-thumbprint:sha-256:${'A'.repeat(43)}`
const policyWith = (accept: string, debug = 'deny') =>
  parsePolicy(`apiVersion: subrosa/v1
kind: Policy
metadata: { namespace: acme, name: p }
owners: { threshold: 1, keys: ["${OWNER}"] }
workloads:
  - name: w
    debug: ${debug}
    accept:
${accept}
`)

const sgx: SgxClaims = {
  tee: 'sgx',
  insecure: false,
  debug: false,
  mrenclave: '11'.repeat(32),
  mrsigner: '22'.repeat(32),
  isvProdId: 1,
  isvSvn: 3,
  tcbStatus: 'ConfigurationAndSWHardeningNeeded',
  advisoryIds: ['INTEL-SA-00289', 'INTEL-SA-00615'],
  source: { kind: 'evidence' },
}
const tdx: TdxClaims = {
  tee: 'tdx',
  insecure: false,
  debug: false,
  mrtd: 'aa'.repeat(48),
  rtmr0: '00'.repeat(48),
  rtmr1: '01'.repeat(48),
  rtmr2: '02'.repeat(48),
  rtmr3: '03'.repeat(48),
  mrconfigid: '00'.repeat(48),
  mrowner: '00'.repeat(48),
  mrownerconfig: '00'.repeat(48),
  mrseam: 'bb'.repeat(48),
  mrsignerseam: '00'.repeat(48),
  teeTcbSvn: '00'.repeat(16),
  tdAttributes: '00'.repeat(8),
  xfam: '00'.repeat(8),
  seamAttributes: '00'.repeat(8),
  tcbStatus: 'UpToDate',
  advisoryIds: [],
}
const snp: SnpClaims = {
  tee: 'snp',
  insecure: false,
  debug: true,
  measurement: 'cc'.repeat(48),
  hostData: '00'.repeat(32),
  guestSvn: 2,
  vmpl: 0,
  product: 'Milan',
  signingKey: 'vcek',
  reportedTcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
  migrationAgent: false,
  smtAllowed: true,
  smtEnabled: true,
}

const decide = (accept: string, claims: SgxClaims | TdxClaims | SnpClaims, debug = 'deny') =>
  evaluatePolicy(policyWith(accept, debug), 'w', claims, { allowSim: false })

describe('hardware clauses', () => {
  it('sgx: measurement, signer, product, svn, TCB statuses and advisories', () => {
    const base = `      - { tee: sgx, mrenclave: "${'11'.repeat(32)}", mrsigner: "${'22'.repeat(32)}", isvProdId: 1, minIsvSvn: 2`
    assert.match(
      decide(`${base} }`, sgx).reasons[0] as string,
      /^accept\[0\]: tcb: status ConfigurationAndSWHardeningNeeded is not in \[UpToDate\]/,
    )
    const tcb = `${base}, tcb: [UpToDate, ConfigurationAndSWHardeningNeeded]`
    assert.equal(decide(`${tcb} }`, sgx).allow, true)
    assert.equal(
      decide(`${tcb}, allowAdvisories: [INTEL-SA-00289] }`, sgx).reasons[0],
      'accept[0]: allowAdvisories: INTEL-SA-00615 not allowed',
    )
    assert.equal(
      decide(`${tcb}, allowAdvisories: [INTEL-SA-00289, INTEL-SA-00615] }`, sgx).allow,
      true,
    )
    assert.equal(decide(`${tcb}, minIsvSvn: 4 }`.replace('minIsvSvn: 2, ', ''), sgx).allow, false)
    assert.equal(
      decide(`${tcb} }`, { ...sgx, tcbStatus: 'Revoked' }).reasons[0],
      'accept[0]: tcb: the platform TCB is Revoked',
    )
    assert.equal(
      decide(
        `      - { tee: sgx, mrsigner: "${'22'.repeat(32)}", isvProdId: 1, tcb: [ConfigurationAndSWHardeningNeeded] }`,
        sgx,
      ).allow,
      true,
    )
  })

  it('refuses Revoked in a policy, and sgx clauses naming nothing to match', () => {
    assert.throws(
      () => policyWith(`      - { tee: sgx, mrenclave: "${'11'.repeat(32)}", tcb: [Revoked] }`),
      (e: { details: { errors: string[] } }) =>
        e.details.errors.some((x) => x.includes('Revoked can never be accepted')),
    )
    assert.throws(() => policyWith('      - { tee: sgx, minIsvSvn: 1 }'), {
      code: 'ERR_POLICY_INVALID',
    })
  })

  it('debug evidence is denied unless the workload allows debug', () => {
    const accept = `      - { tee: snp, measurement: "${'cc'.repeat(48)}" }`
    assert.equal(decide(accept, snp).clause, 'workloads[0].debug')
    assert.equal(decide(accept, snp, 'allow').allow, true)
  })

  it('tdx: mrtd, rtmrs and module measurement', () => {
    assert.equal(
      decide(`      - { tee: tdx, mrtd: "${'aa'.repeat(48)}", rtmr1: "${'01'.repeat(48)}" }`, tdx)
        .allow,
      true,
    )
    assert.match(
      decide(`      - { tee: tdx, mrtd: "${'aa'.repeat(48)}", rtmr3: "${'ff'.repeat(48)}" }`, tdx)
        .reasons[0] as string,
      /rtmr3: /,
    )
    assert.match(
      decide(`      - { tee: tdx, mrtd: ["${'ab'.repeat(48)}"] }`, tdx).reasons[0] as string,
      /mrtd: /,
    )
  })

  it('snp: TCB minima, vmpl, product, signing key, migration agent and SMT', () => {
    const m = `measurement: "${'cc'.repeat(48)}"`
    const ok = { ...snp, debug: false }
    assert.equal(
      decide(
        `      - { tee: snp, ${m}, minTcb: { snp: 8, microcode: 115 }, vmpl: 0, product: Milan, signingKey: vcek }`,
        ok,
      ).allow,
      true,
    )
    assert.match(
      decide(`      - { tee: snp, ${m}, minTcb: { snp: 9 } }`, ok).reasons[0] as string,
      /minTcb: .* in snp/,
    )
    assert.match(
      decide(`      - { tee: snp, ${m}, signingKey: vlek }`, ok).reasons[0] as string,
      /signingKey/,
    )
    assert.match(
      decide(`      - { tee: snp, ${m} }`, { ...ok, migrationAgent: true }).reasons[0] as string,
      /allowMigrationAgent/,
    )
    assert.match(
      decide(`      - { tee: snp, ${m}, allowSmt: false }`, ok).reasons[0] as string,
      /allowSmt/,
    )
    const { reportedTcb: _t, ...noTcb } = ok
    assert.match(
      decide(`      - { tee: snp, ${m}, minTcb: { snp: 1 } }`, noTcb).reasons[0] as string,
      /absent/,
    )
  })
})

describe('tokens and claim rules', () => {
  const maa = 'https://shared.weu.attest.azure.net'
  const fromToken: SgxClaims = {
    ...sgx,
    tcbStatus: undefined as never,
    advisoryIds: [],
    source: {
      kind: 'token',
      issuer: maa,
      raw: { 'x-ms-sgx-svn': 3, 'x-ms-sgx-is-debuggable': false, 'x-ms-attestation-type': 'sgx' },
    },
  }
  delete (fromToken as { tcbStatus?: unknown }).tcbStatus

  it('token claims need a clause naming their issuer, and hardware clauses refuse tokens', () => {
    const hw = `      - { tee: sgx, mrenclave: "${'11'.repeat(32)}", tcb: [ConfigurationAndSWHardeningNeeded] }`
    assert.match(decide(hw, fromToken).reasons[0] as string, /accepts hardware evidence only/)
    const viaToken = `      - { tee: sgx, mrenclave: "${'11'.repeat(32)}", issuer: "${maa}"`
    assert.match(decide(`${viaToken} }`, fromToken).reasons[0] as string, /carries no TCB status/)
    assert.equal(decide(`${viaToken}, tcbFromIssuer: true }`, fromToken).allow, true)
    assert.match(
      decide(`${viaToken}, tcbFromIssuer: true }`, sgx).reasons[0] as string,
      /accepts only tokens/,
    )
    assert.match(
      decide(`${viaToken.replace(maa, 'https://other.example')}, tcbFromIssuer: true }`, fromToken)
        .reasons[0] as string,
      /not https:\/\/other/,
    )
  })

  it('evaluates allOf/anyOf rules over normalized and token claims, failing closed', () => {
    const accept = (rules: string) =>
      `      - { tee: sgx, mrenclave: "${'11'.repeat(32)}", issuer: "${maa}", tcbFromIssuer: true, rules: ${rules} }`
    assert.equal(
      decide(
        accept(
          '{ allOf: [{ claim: token.x-ms-sgx-svn, greaterOrEquals: 2 }, { claim: token.x-ms-sgx-is-debuggable, equals: false }] }',
        ),
        fromToken,
      ).allow,
      true,
    )
    assert.equal(
      decide(accept('{ allOf: [{ claim: token.x-ms-sgx-svn, greaterOrEquals: 4 }] }'), fromToken)
        .allow,
      false,
    )
    assert.equal(
      decide(
        accept(
          '{ anyOf: [{ claim: isvSvn, greaterOrEquals: 4 }, { claim: mrsigner, in: ["' +
            '22'.repeat(32) +
            '"] }] }',
        ),
        fromToken,
      ).allow,
      true,
    )
    assert.equal(
      decide(accept('{ allOf: [{ claim: token.missing, equals: 1 }] }'), fromToken).allow,
      false,
    )
    assert.equal(
      decide(accept('{ allOf: [{ claim: token.missing, exists: false }] }'), fromToken).allow,
      true,
    )
    assert.throws(
      () => policyWith(accept('{ allOf: [{ claim: isvSvn, equals: 1, exists: true }] }')),
      { code: 'ERR_POLICY_INVALID' },
    )
  })
})
