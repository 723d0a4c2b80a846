import type { Claims, SgxClaims, SnpClaims, TdxClaims } from '@subrosa/attest'
import type { ClaimRule } from './accept.ts'
import type { AcceptClause } from './schema.ts'

type Clause<T extends AcceptClause['tee']> = Extract<AcceptClause, { tee: T }>

/**
 * Why a clause does not accept the claims (field path and reason), or undefined when it does.
 * Fail closed: a field the clause requires but the claims lack is a mismatch.
 */
export function clauseMismatch(clause: AcceptClause, claims: Claims): string | undefined {
  const tee: string = clause.tee
  if (clause.tee !== claims.tee) return `needs tee ${tee}, the evidence is ${claims.tee}`
  if (clause.tee !== 'sim') {
    const why = sourceMismatch(clause, claims)
    if (why !== undefined) return why
  }
  const specific =
    clause.tee === 'sim' && claims.tee === 'sim'
      ? first(
          [
            !clause.measurement.includes(claims.measurement),
            `measurement: ${claims.measurement} is not accepted`,
          ],
          [
            clause.minSvn !== undefined && claims.svn < clause.minSvn,
            `minSvn: svn ${claims.svn} is below ${clause.minSvn}`,
          ],
        )
      : clause.tee === 'sgx' && claims.tee === 'sgx'
        ? sgxMismatch(clause, claims)
        : clause.tee === 'tdx' && claims.tee === 'tdx'
          ? tdxMismatch(clause, claims)
          : clause.tee === 'snp' && claims.tee === 'snp'
            ? snpMismatch(clause, claims)
            : undefined
  if (specific !== undefined) return specific
  if ('rules' in clause && clause.rules !== undefined && !ruleHolds(clause.rules, claims)) {
    return `rules: the claims do not satisfy ${JSON.stringify(clause.rules)}`
  }
  return undefined
}

function first(...checks: [boolean, string][]): string | undefined {
  return checks.find(([failed]) => failed)?.[1]
}

function sourceMismatch(
  clause: { issuer?: string | undefined },
  claims: Claims,
): string | undefined {
  const source = claims.source ?? { kind: 'evidence' as const }
  if (clause.issuer === undefined) {
    return source.kind === 'token'
      ? `issuer: the clause accepts hardware evidence only, not a token from ${source.issuer}`
      : undefined
  }
  if (source.kind !== 'token') return `issuer: the clause accepts only tokens from ${clause.issuer}`
  return source.issuer === clause.issuer
    ? undefined
    : `issuer: token from ${source.issuer}, not ${clause.issuer}`
}

function intelMismatch(
  clause: {
    tcb?: readonly string[] | undefined
    allowAdvisories?: readonly string[] | undefined
    tcbFromIssuer?: boolean | undefined
  },
  claims: SgxClaims | TdxClaims,
): string | undefined {
  if (claims.tcbStatus === undefined) {
    if (claims.source?.kind === 'token' && clause.tcbFromIssuer === true) return undefined
    return 'tcb: the evidence carries no TCB status (set tcbFromIssuer: true to rely on the token issuer)'
  }
  if (claims.tcbStatus === 'Revoked') return 'tcb: the platform TCB is Revoked'
  const accepted = clause.tcb ?? ['UpToDate']
  if (!accepted.includes(claims.tcbStatus))
    return `tcb: status ${claims.tcbStatus} is not in [${accepted.join(', ')}]`
  const allowed = clause.allowAdvisories
  if (allowed !== undefined && !allowed.includes('*')) {
    const extra = (claims.advisoryIds ?? []).filter((a) => !allowed.includes(a))
    if (extra.length > 0) return `allowAdvisories: ${extra.join(', ')} not allowed`
  }
  return undefined
}

function sgxMismatch(clause: Clause<'sgx'>, claims: SgxClaims): string | undefined {
  return (
    first(
      [
        clause.mrenclave !== undefined && !clause.mrenclave.includes(claims.mrenclave),
        `mrenclave: ${claims.mrenclave} is not accepted`,
      ],
      [
        clause.mrsigner !== undefined && clause.mrsigner !== claims.mrsigner,
        `mrsigner: ${claims.mrsigner} is not ${clause.mrsigner}`,
      ],
      [
        clause.isvProdId !== undefined && clause.isvProdId !== claims.isvProdId,
        `isvProdId: ${claims.isvProdId} is not ${clause.isvProdId}`,
      ],
      [
        clause.minIsvSvn !== undefined && claims.isvSvn < clause.minIsvSvn,
        `minIsvSvn: isvSvn ${claims.isvSvn} is below ${clause.minIsvSvn}`,
      ],
    ) ?? intelMismatch(clause, claims)
  )
}

function tdxMismatch(clause: Clause<'tdx'>, claims: TdxClaims): string | undefined {
  const exact = (['rtmr0', 'rtmr1', 'rtmr2', 'rtmr3', 'mrconfigid', 'mrowner'] as const).map(
    (f): [boolean, string] => [
      clause[f] !== undefined && clause[f] !== claims[f],
      `${f}: ${claims[f]} is not ${clause[f]}`,
    ],
  )
  return (
    first([!clause.mrtd.includes(claims.mrtd), `mrtd: ${claims.mrtd} is not accepted`], ...exact, [
      clause.mrseam !== undefined && !clause.mrseam.includes(claims.mrseam),
      `mrseam: ${claims.mrseam} is not accepted`,
    ]) ?? intelMismatch(clause, claims)
  )
}

function snpMismatch(clause: Clause<'snp'>, claims: SnpClaims): string | undefined {
  const min = clause.minTcb ?? {}
  const tcb = claims.reportedTcb
  const below = (Object.keys(min) as (keyof typeof min)[]).filter((k) => {
    const need = min[k]
    const have = tcb?.[k]
    return need !== undefined && (have === undefined || have < need)
  })
  return first(
    [
      !clause.measurement.includes(claims.measurement),
      `measurement: ${claims.measurement} is not accepted`,
    ],
    [
      clause.hostData !== undefined && clause.hostData !== claims.hostData,
      `hostData: ${claims.hostData ?? 'absent'} is not ${clause.hostData}`,
    ],
    [
      clause.minGuestSvn !== undefined && claims.guestSvn < clause.minGuestSvn,
      `minGuestSvn: guestSvn ${claims.guestSvn} is below ${clause.minGuestSvn}`,
    ],
    [
      below.length > 0,
      `minTcb: reported TCB ${JSON.stringify(tcb ?? 'absent')} is below ${JSON.stringify(min)} in ${below.join(', ')}`,
    ],
    [
      clause.vmpl !== undefined && clause.vmpl !== claims.vmpl,
      `vmpl: ${claims.vmpl} is not ${clause.vmpl}`,
    ],
    [
      clause.product !== undefined && clause.product !== claims.product,
      `product: ${claims.product ?? 'absent'} is not ${clause.product}`,
    ],
    [
      clause.signingKey !== undefined && clause.signingKey !== claims.signingKey,
      `signingKey: ${claims.signingKey ?? 'absent'} is not ${clause.signingKey}`,
    ],
    [
      !clause.allowMigrationAgent && claims.migrationAgent !== false,
      'allowMigrationAgent: the guest policy allows a migration agent (or does not say)',
    ],
    [
      !clause.allowSmt && claims.smtEnabled !== false,
      'allowSmt: SMT is enabled on the platform (or not reported)',
    ],
  )
}

/** Evaluate a release-policy style rule over the claims (`token.` paths read the token's own claims). */
export function ruleHolds(rule: ClaimRule, claims: Claims): boolean {
  if ('allOf' in rule) return rule.allOf.every((r) => ruleHolds(r, claims))
  if ('anyOf' in rule) return rule.anyOf.some((r) => ruleHolds(r, claims))
  const value = claimAt(claims, rule.claim)
  if (rule.exists !== undefined) return (value !== undefined) === rule.exists
  if (value === undefined || value === null) return false
  if (rule.equals !== undefined)
    return (
      value === rule.equals ||
      (typeof value === 'string' &&
        typeof rule.equals === 'string' &&
        value.toLowerCase() === rule.equals.toLowerCase())
    )
  if (rule.in !== undefined) return rule.in.includes(value as string | number | boolean)
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value)
        ? Number(value)
        : Number.NaN
  if (Number.isNaN(n)) return false
  if (rule.greaterOrEquals !== undefined) return n >= rule.greaterOrEquals
  if (rule.lessOrEquals !== undefined) return n <= rule.lessOrEquals
  return false
}

function claimAt(claims: Claims, path: string): unknown {
  const [head, ...rest] = path.split('.')
  let node: unknown = claims
  let parts = [head as string, ...rest]
  if (head === 'token') {
    if (claims.source?.kind !== 'token') return undefined
    node = claims.source.raw
    parts = rest
  }
  for (const p of parts) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, p)) return undefined
    node = (node as Record<string, unknown>)[p]
  }
  return node
}
