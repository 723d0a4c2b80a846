import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { TrustedIssuer, VerifyEvidenceOptions } from '@subrosa/attest'
import { type AppraisalReport, appraiseEvidence, parsePolicy } from '@subrosa/policy'
import {
  collateralSources,
  detectEvidence,
  type EvidenceType,
  type WireEvidence,
} from '@subrosa/sdk'
import type { JWK } from 'jose'
import { type Command, type Invocation, type OptionSpec, stringOption } from '../command.ts'
import { readText } from '../config.ts'
import { CliError } from '../errors.ts'
import { crlMode, readCollateralFiles } from '../verification.ts'

const TYPES = ['sim', 'sgx', 'tdx', 'snp', 'token'] as const

/** The options naming an evidence file and its type, shared with `policy dry-run`. */
export const EVIDENCE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  evidence: {
    type: 'string',
    value: 'file',
    description: 'Evidence: raw quote/report, hex, JWT or wire JSON',
  },
  type: {
    type: 'string',
    value: 'kind',
    description: 'sgx | tdx | snp | token | sim (default: detected)',
  },
}

/** The evidence of `--evidence` in wire form, its type from `--type` or detected. */
export async function readEvidence(inv: Invocation, file: string): Promise<WireEvidence> {
  const type = stringOption(inv, 'type')
  if (type !== undefined && !(TYPES as readonly string[]).includes(type))
    throw new CliError('ERR_CLI_USAGE', `--type must be one of ${TYPES.join(', ')}`)
  return detectEvidence(
    await readBytes(inv, file, 'the evidence'),
    type as EvidenceType | undefined,
  )
}

/** `subrosa attest verify` */
export const attestVerify: Command = {
  path: ['attest', 'verify'],
  summary:
    'Verify TEE evidence (SGX/TDX quote, SEV-SNP report, attestation token) offline, optionally against a policy.',
  usage:
    '--evidence <file> [--type sgx|tdx|snp|token|sim] [--collateral <file>] [--certs <file>] [--at <ISO time>] [--policy <file> --workload <name>] [--json]',
  description:
    'Exit 0 only when the evidence verifies (and the policy, if given, allows). Nothing is fetched: collateral\n' +
    '(a subrosa-collateral/v1 bundle, or dcap-qvl collateral JSON) and certificates come from files; the time\n' +
    'is --at (default now). --certs is the VCEK/VLEK for SEV-SNP, the issuer roots (PEM) or JWKS for a token,\n' +
    'or the sim platform public key.',
  json: true,
  options: {
    ...EVIDENCE_OPTIONS,
    collateral: {
      type: 'string',
      value: 'file',
      multiple: true,
      description: 'Collateral bundle (subrosa-collateral/v1) or dcap-qvl collateral JSON',
    },
    certs: {
      type: 'string',
      value: 'file',
      description: 'VCEK/VLEK (SNP), issuer roots or JWKS (token), public JWK (sim)',
    },
    at: { type: 'string', value: 'ISO time', description: 'Verification time (default: now)' },
    crls: {
      type: 'string',
      value: 'mode',
      description: 'required | not-provided (Intel CRLs)',
      default: 'required',
    },
    audience: { type: 'string', value: 'aud', description: 'Required token audience' },
    'token-kind': {
      type: 'string',
      value: 'kind',
      description: 'maa | ear | generic',
      default: 'generic',
    },
    policy: {
      type: 'string',
      value: 'file',
      description: 'Policy document to evaluate the claims against',
    },
    workload: { type: 'string', value: 'name', description: 'Workload of the policy' },
    'allow-sim': { type: 'boolean', description: 'Let the policy accept sim claims (INSECURE)' },
  },
  async run(inv) {
    const file = stringOption(inv, 'evidence')
    if (file === undefined)
      throw new CliError(
        'ERR_CLI_USAGE',
        '--evidence <file> is required (see subrosa attest verify --help)',
      )
    const at = stringOption(inv, 'at')
    const now = at === undefined ? new Date() : new Date(at)
    if (Number.isNaN(now.getTime()))
      throw new CliError('ERR_CLI_USAGE', '--at must be an ISO 8601 time')
    const policyFile = stringOption(inv, 'policy')
    const workload = stringOption(inv, 'workload')
    if ((policyFile === undefined) !== (workload === undefined))
      throw new CliError('ERR_CLI_USAGE', '--policy and --workload go together')

    const wire = await readEvidence(inv, file)
    const options = await verifyOptions(inv, wire, now)
    const report = await appraiseEvidence({
      tee: wire.tee,
      evidence: wire.evidence,
      options,
      ...(policyFile === undefined || workload === undefined
        ? {}
        : {
            policy: parsePolicy(await readText(resolve(inv.io.cwd, policyFile), 'the policy')),
            workload,
          }),
      allowSim: inv.options['allow-sim'] === true,
    })
    inv.io.out(inv.json ? JSON.stringify(report) : describeAppraisal(report))
    return report.verified && (report.decision === undefined || report.decision.allow) ? 0 : 1
  },
}

async function verifyOptions(
  inv: Invocation,
  wire: { tee: string; evidence: unknown },
  now: Date,
): Promise<VerifyEvidenceOptions> {
  const certsFile = stringOption(inv, 'certs')
  const certs =
    certsFile === undefined ? undefined : await readBytes(inv, certsFile, 'the certificates')
  const certsText = certs === undefined ? undefined : Buffer.from(certs).toString('utf8')
  const files = await readCollateralFiles(inv)
  const collateral = collateralSources(files, { crls: crlMode(inv) })
  const options: { -readonly [K in keyof VerifyEvidenceOptions]: VerifyEvidenceOptions[K] } = {
    now,
    ...collateral,
  }
  if (wire.tee === 'snp' && certs !== undefined) {
    options.amd = {
      ...options.amd,
      vek: async () => (certsText?.includes('BEGIN CERTIFICATE') ? certsText : certs),
    }
  }
  if (wire.tee === 'sim' && certsText !== undefined)
    options.sim = {
      trustedKeys: [JSON.parse(certsText) as JWK],
      maxAgeSeconds: Number.MAX_SAFE_INTEGER,
    }
  if (wire.tee === 'token')
    options.tokens = { issuers: [tokenIssuer(inv, wire.evidence, certsText)], ...audience(inv) }
  return options
}

function tokenIssuer(inv: Invocation, evidence: unknown, certs: string | undefined): TrustedIssuer {
  if (certs === undefined)
    throw new CliError(
      'ERR_CLI_USAGE',
      'A token needs --certs: the issuer roots (PEM) or its JWKS (JSON)',
    )
  const token = (evidence as { token: string }).token
  let issuer: unknown
  try {
    issuer = (
      JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
        iss?: unknown
      }
    ).iss
  } catch {
    issuer = undefined
  }
  const kind = stringOption(inv, 'token-kind') ?? 'generic'
  if (kind !== 'maa' && kind !== 'ear' && kind !== 'generic')
    throw new CliError('ERR_CLI_USAGE', '--token-kind must be maa, ear or generic')
  const trust = certs.includes('BEGIN CERTIFICATE')
    ? { x5cRoots: [certs] }
    : { jwks: JSON.parse(certs) as { keys: JWK[] } }
  return { issuer: typeof issuer === 'string' ? issuer : '', kind, ...trust }
}

function audience(inv: Invocation): { audience?: string } {
  const a = stringOption(inv, 'audience')
  return a === undefined ? {} : { audience: a }
}

async function readBytes(inv: Invocation, file: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(resolve(inv.io.cwd, file)))
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `Cannot read ${what}: ${file}`, { cause })
  }
}

/** The human form of an appraisal (verdict, main claims, decision with reasons). */
export function describeAppraisal(
  r: Omit<AppraisalReport, 'claims' | 'details'> & { readonly claims?: object },
): string {
  const lines: string[] = []
  if (!r.verified) {
    lines.push(`NOT VERIFIED (${r.tee}): ${r.error?.code}: ${r.error?.message}`)
    if (r.error?.details !== undefined) lines.push(`  ${JSON.stringify(r.error.details)}`)
    return lines.join('\n')
  }
  const c = r.claims
  lines.push(
    `VERIFIED ${r.tee}${(c as { insecure?: unknown } | undefined)?.insecure === true ? ' (sim: INSECURE)' : ''}${r.tcbStatus === undefined ? '' : `: TCB ${r.tcbStatus}`}`,
  )
  if (r.advisories.length > 0) lines.push(`  advisories: ${r.advisories.join(', ')}`)
  if (c !== undefined) {
    const shown = [
      'measurement',
      'mrenclave',
      'mrsigner',
      'isvProdId',
      'isvSvn',
      'mrtd',
      'rtmr3',
      'guestSvn',
      'vmpl',
      'product',
      'signingKey',
      'debug',
      'reportData',
      'platformId',
    ]
    for (const k of shown) {
      const v = (c as Record<string, unknown>)[k]
      if (v !== undefined) lines.push(`  ${k.padEnd(12)} ${String(v)}`)
    }
  }
  if (r.decision !== undefined) {
    lines.push(`${r.decision.allow ? 'ALLOWED' : 'DENIED'} by ${r.decision.clause}`)
    for (const reason of r.decision.reasons) lines.push(`  ${reason}`)
  }
  return lines.join('\n')
}
