import { resolve } from 'node:path'
import { applyPolicy, collateralWire, dryRun, readAudit } from '@subrosa/sdk'
import { type Command, listOption, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS, readText } from '../config.ts'
import { CliError } from '../errors.ts'
import { renderTable } from '../output.ts'
import { describeAppraisal, EVIDENCE_OPTIONS, readEvidence } from './attest.ts'

/** `subrosa policy apply` */
export const policyApply: Command = {
  path: ['policy', 'apply'],
  summary: 'Validate a policy document and apply it as a new version, signed with the owner key.',
  usage: '<policy.yaml> [options]',
  description:
    'Validation errors name the path of each problem (e.g. workloads[0].accept[0].measurement).\n' +
    "The owners' threshold of the governing version (the current one; the new one for a creation)\n" +
    'must approve: your signed request counts as one approval (unless the broker runs with\n' +
    '--signed-policies-only), each --approval file (from subrosa policy sign) as another.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    approval: {
      type: 'string',
      value: 'file',
      multiple: true,
      description: 'An owner approval of this version (from subrosa policy sign)',
    },
  },
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['policy.yaml'])
    const yaml = await readText(resolve(inv.io.cwd, file), 'the policy file')
    const approvals: string[] = []
    for (const f of listOption(inv, 'approval'))
      approvals.push((await readText(resolve(inv.io.cwd, f), 'an approval (--approval)')).trim())
    const client = await brokerClient(inv, true)
    try {
      const r = await applyPolicy(client, yaml, approvals)
      inv.io.out(
        inv.json
          ? JSON.stringify(r)
          : `${r.created ? 'Applied' : 'Unchanged'} ${r.namespace}/${r.name} version ${r.version} (${r.hash}), approved by ${r.approvedBy.length} owner(s)`,
      )
    } finally {
      client.close()
    }
    return 0
  },
}

/** `subrosa policy dry-run` */
export const policyDryRun: Command = {
  path: ['policy', 'dry-run'],
  summary: 'Ask the broker what it would decide for captured evidence, without releasing anything.',
  usage:
    '--evidence <file> (--policy <file> | --ref <ns>/<name>) --workload <name> [--collateral <file>] [--at <ISO time>] [options]',
  description:
    'The broker verifies with its own collateral and trust settings and evaluates a draft policy (--policy)\n' +
    'or a stored one (--ref). No nonce is bound and no token is issued; the broker audits the dry run.\n' +
    'Exit 0 when the policy would allow, 1 otherwise.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    ...EVIDENCE_OPTIONS,
    policy: { type: 'string', value: 'file', description: 'Draft policy document' },
    ref: { type: 'string', value: 'ns/name', description: 'Stored policy' },
    workload: { type: 'string', value: 'name', description: 'Workload of the policy' },
    collateral: {
      type: 'string',
      value: 'file',
      description: "Collateral (bundle or dcap-qvl JSON) to use instead of the broker's own",
    },
    at: {
      type: 'string',
      value: 'ISO time',
      description: "Verification time (default: the broker's clock)",
    },
  },
  async run(inv) {
    const file = stringOption(inv, 'evidence')
    const workload = stringOption(inv, 'workload')
    const policyFile = stringOption(inv, 'policy')
    const ref = stringOption(inv, 'ref')
    if (
      file === undefined ||
      workload === undefined ||
      (policyFile === undefined) === (ref === undefined)
    )
      throw new CliError(
        'ERR_CLI_USAGE',
        'Need --evidence, --workload and one of --policy or --ref (see --help)',
      )
    const [namespace, name, ...rest] = (ref ?? '').split('/')
    if (
      ref !== undefined &&
      (namespace === '' || name === undefined || name === '' || rest.length > 0)
    )
      throw new CliError('ERR_CLI_USAGE', '--ref must be <namespace>/<name>')
    const at = stringOption(inv, 'at')
    if (at !== undefined && Number.isNaN(Date.parse(at)))
      throw new CliError('ERR_CLI_USAGE', '--at must be an ISO 8601 time')
    const wire = await readEvidence(inv, file)
    const policy =
      policyFile === undefined
        ? { namespace: namespace as string, name: name as string }
        : { yaml: await readText(resolve(inv.io.cwd, policyFile), 'the policy file') }
    const collateralFile = stringOption(inv, 'collateral')
    const collateral =
      collateralFile === undefined
        ? undefined
        : collateralWire({
            name: collateralFile,
            text: await readText(resolve(inv.io.cwd, collateralFile), 'the collateral'),
          })
    const client = await brokerClient(inv, true)
    try {
      const r = await dryRun(client, {
        ...(collateral === undefined ? {} : { collateral }),
        tee: wire.tee,
        evidence: wire.evidence,
        workload,
        policy,
        ...(at === undefined ? {} : { at: new Date(at).toISOString() }),
      })
      inv.io.out(
        inv.json
          ? JSON.stringify(r)
          : `${describeAppraisal(r)}\n(policy ${r.policy.namespace}/${r.policy.name}${r.policy.version === undefined ? ' draft' : ` v${r.policy.version}`}, at ${r.at}; dry run: nothing released)`,
      )
      return r.decision?.allow === true ? 0 : 1
    } finally {
      client.close()
    }
  },
}

/** `subrosa audit` */
export const audit: Command = {
  path: ['audit'],
  summary:
    "Show the broker's audit log for the owner's namespaces and whether its hash chain verifies.",
  usage: '[--after <seq>] [options]',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    after: {
      type: 'string',
      value: 'seq',
      description: 'Only entries after this sequence number',
      default: '0',
    },
  },
  async run(inv) {
    const client = await brokerClient(inv, true)
    try {
      const r = await readAudit(client, Number(stringOption(inv, 'after') ?? 0) || 0)
      if (inv.json) inv.io.out(JSON.stringify(r))
      else {
        inv.io.out(
          renderTable(
            ['seq', 'at', 'kind', 'summary'],
            r.entries.map((e) => [e.seq, e.at, e.kind, summarize(e.data)]),
          ),
        )
        inv.io.out(`\nChain ${r.verified ? `verified (head ${r.head.slice(0, 16)}…)` : 'BROKEN'}`)
      }
      return r.verified ? 0 : 1
    } finally {
      client.close()
    }
  },
}

/** One line per audit entry, identifiers and decisions only; sim attestations say INSECURE. */
export function summarize(data: Record<string, unknown>): string {
  const keys = [
    'workload',
    'decision',
    'clause',
    'code',
    'insecure',
    'key',
    'secret',
    'to',
    'policy',
    'version',
    'owner',
  ]
  const line = keys
    .filter((k) => data[k] !== undefined)
    .map((k) => `${k}=${String(data[k])}`)
    .join(' ')
  return data.insecure === true ? `${line} (sim TEE: INSECURE)` : line
}
