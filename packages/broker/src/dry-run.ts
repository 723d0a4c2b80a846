// The policy dry-run: what the broker would decide for captured evidence, without a nonce, a
// token or a release. For authoring policies and explaining denials.

import {
  AttestError,
  type DcapCollateral,
  type ParsedDcapCollateral,
  parseDcapCollateral,
  productFromName,
  type VerifyEvidenceOptions,
} from '@subrosa/attest'
import { fromBase64 } from '@subrosa/core'
import { type AppraisalReport, appraiseEvidence, parsePolicy, policyHash } from '@subrosa/policy'
import {
  type CollateralWire,
  type DryRunRequest,
  dryRunRequestSchema,
  parseWire,
} from '@subrosa/protocol'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { authorizeNamespace } from './namespaces.ts'
import { requirePolicy } from './policies.ts'
import { verificationOptions } from './verification.ts'

/** The appraisal, with the policy version it used. */
export type DryRunResult = AppraisalReport & {
  readonly policy: {
    readonly namespace: string
    readonly name: string
    readonly hash: string
    readonly version?: number
  }
  readonly at: string
}

/**
 * `POST /admin/v0/dry-run`: verify evidence with this broker's verifiers and trust roots at
 * `at`, evaluate the draft or stored policy for `workload`, audit `policy.dry-run` (outcome and
 * code only). No nonce is bound and nothing is released, so an allow here is not a release.
 *
 * @throws BrokerError `ERR_BROKER_FORBIDDEN` / `ERR_BROKER_NOT_FOUND` (namespace),
 *   PolicyError `ERR_POLICY_YAML` / `ERR_POLICY_INVALID`, ProtocolError `ERR_PROTOCOL_MALFORMED`.
 */
export async function dryRun(
  ctx: BrokerContext,
  ownerId: string,
  body: unknown,
): Promise<DryRunResult> {
  const request: DryRunRequest = parseWire(dryRunRequestSchema, body, 'dry-run request')
  const at = request.at === undefined ? ctx.clock() : new Date(request.at)
  let stored: { namespace: string; name: string; hash: string; version?: number }
  let policy: ReturnType<typeof parsePolicy>
  let auditNamespace: string | undefined
  if ('yaml' in request.policy) {
    policy = parsePolicy(request.policy.yaml)
    const { namespace, name } = policy.metadata
    // A draft may be for a namespace that does not exist yet; an existing one must be the caller's.
    if (await namespaceExists(ctx, namespace)) {
      await authorizeNamespace(ctx, ownerId, namespace, { claim: false })
      auditNamespace = namespace
    }
    stored = { namespace, name, hash: policyHash(policy) }
  } else {
    const { namespace, name } = request.policy
    await authorizeNamespace(ctx, ownerId, namespace, { claim: false })
    const current = await requirePolicy(ctx, namespace, name)
    policy = current.policy
    auditNamespace = namespace
    stored = { namespace, name, hash: current.hash, version: current.version }
  }
  const report = await appraiseEvidence({
    tee: request.tee,
    evidence: request.evidence,
    options: withCollateral(verificationOptions(ctx, at), request.collateral),
    policy,
    workload: request.workload,
    allowSim: ctx.allowSim,
  })
  await appendAudit(ctx.db, ctx.clock, {
    kind: 'policy.dry-run',
    ...(auditNamespace === undefined ? {} : { namespace: auditNamespace }),
    data: {
      owner: ownerId,
      policy: `${stored.namespace}/${stored.name}`,
      policyHash: stored.hash,
      workload: request.workload,
      tee: request.tee,
      verified: report.verified,
      ...(report.error === undefined ? {} : { code: report.error.code }),
      ...(report.decision === undefined
        ? {}
        : { decision: report.decision.allow ? 'allow' : 'deny', clause: report.decision.clause }),
      at: at.toISOString(),
    },
  })
  return { ...report, policy: stored, at: at.toISOString() }
}

async function namespaceExists(ctx: BrokerContext, namespace: string): Promise<boolean> {
  const { rows } = await ctx.db.query('SELECT 1 FROM namespaces WHERE name = $1', [namespace])
  return rows.length > 0
}

/**
 * The broker's options with the request's collateral in place of its own sources. The wire form
 * is only decoded here; the verifier checks it like any other collateral (a malformed part is an
 * `ERR_ATTEST_COLLATERAL` in the report).
 */
function withCollateral(
  options: VerifyEvidenceOptions,
  wire: CollateralWire | undefined,
): VerifyEvidenceOptions {
  if (wire === undefined) return options
  const { intel, amd } = wire
  let parsed: ParsedDcapCollateral | undefined
  const amdProduct = amd?.product === undefined ? undefined : productFromName(amd.product)
  return {
    ...options,
    ...(intel === undefined
      ? {}
      : {
          intel: {
            ...options.intel,
            collateral: async () => {
              parsed ??= parseDcapCollateral(dcapCollateralOf(intel))
              return parsed
            },
          },
        }),
    ...(amd === undefined
      ? {}
      : {
          amd: {
            vek: async () => {
              if (amd.product !== undefined && amdProduct === undefined) {
                throw new AttestError(
                  'ERR_ATTEST_COLLATERAL',
                  'Collateral amd.product is unknown',
                  {
                    details: { field: 'amd.product' },
                  },
                )
              }
              return amd.vek
            },
            crl: async () => (amd.crl === undefined ? undefined : der(amd.crl, 'amd.crl')),
            ...(amdProduct === undefined ? {} : { product: amdProduct }),
          },
        }),
  }
}

function dcapCollateralOf(intel: NonNullable<CollateralWire['intel']>): DcapCollateral {
  const { fmspc: _fmspc, pckCrl, rootCaCrl, pckCrlIssuerChain, ...signed } = intel
  return {
    ...signed,
    ...(pckCrl === undefined ? {} : { pckCrl: der(pckCrl, 'intel.pckCrl') }),
    ...(rootCaCrl === undefined ? {} : { rootCaCrl: der(rootCaCrl, 'intel.rootCaCrl') }),
    ...(pckCrlIssuerChain === undefined ? {} : { pckCrlIssuerChain }),
  }
}

function der(base64: string, field: string): Uint8Array {
  const bytes = fromBase64(base64)
  if (bytes === undefined) {
    throw new AttestError('ERR_ATTEST_COLLATERAL', `Collateral ${field} is not base64`, {
      details: { field },
    })
  }
  return bytes
}
