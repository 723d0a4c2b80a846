import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { lineDiff, parsePolicy, policyHash } from '@subrosa/policy'
import { signPolicyApproval } from '@subrosa/protocol'
import { policyHistory, policyVersion, revokeOwnKey } from '@subrosa/sdk'
import { type Command, type Invocation, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS, ownerCredentials, readText } from '../config.ts'
import { CliError } from '../errors.ts'
import { renderTable } from '../output.ts'

const short = (hash: string | null) => (hash === null ? '-' : `${hash.slice(0, 19)}…`)

function policyRef(inv: Invocation, command: Command): { namespace: string; name: string } {
  const [ref = ''] = positionals(inv, command, ['namespace/name'])
  const m = /^([a-z0-9-]{1,63})\/([a-z0-9-]{1,63})$/.exec(ref)
  if (m === null) throw new CliError('ERR_CLI_USAGE', `${ref} is not <namespace>/<name>`)
  return { namespace: m[1] as string, name: m[2] as string }
}

function versionOption(inv: Invocation, name: string): number | undefined {
  const v = stringOption(inv, name)
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n < 1)
    throw new CliError('ERR_CLI_USAGE', `--${name} must be a version number (1, 2, ...)`)
  return n
}

/** `subrosa policy sign` */
export const policySign: Command = {
  path: ['policy', 'sign'],
  summary: "Approve a policy version with the owner key (for a policy's approval threshold).",
  usage: '<policy.yaml> [-o <approval file>] [options]',
  description:
    'The approval is an ES256 signature over the namespace, name and hash of the canonical policy,\n' +
    'which covers metadata.predecessor: it approves this one transition and no other. Send approvals\n' +
    'to whoever applies the policy: subrosa policy apply <policy.yaml> --approval <file> ...\n' +
    'Needs no broker connection.',
  json: true,
  options: {
    'owner-key': OWNER_OPTIONS['owner-key'] as NonNullable<(typeof OWNER_OPTIONS)['owner-key']>,
    output: { type: 'string', short: 'o', value: 'file', description: 'Write the approval here' },
  },
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['policy.yaml'])
    const policy = parsePolicy(await readText(resolve(inv.io.cwd, file), 'the policy file'))
    const owner = await ownerCredentials(inv)
    const subject = {
      namespace: policy.metadata.namespace,
      name: policy.metadata.name,
      hash: policyHash(policy),
    }
    if (!policy.owners.keys.includes(owner.id)) {
      inv.io.err(
        `Warning: ${owner.id} is not among this version's owners; it counts only if it owns the current version.\n`,
      )
    }
    const approval = await signPolicyApproval(subject, owner, new Date())
    const out = stringOption(inv, 'output')
    if (out !== undefined) await writeFile(resolve(inv.io.cwd, out), `${approval}\n`)
    if (inv.json) inv.io.out(JSON.stringify({ ...subject, owner: owner.id, approval }))
    else if (out === undefined) inv.io.out(approval)
    else inv.io.out(`Approved ${subject.namespace}/${subject.name} ${subject.hash} in ${out}`)
    return 0
  },
}

/** `subrosa policy history` */
export const policyHistoryCommand: Command = {
  path: ['policy', 'history'],
  summary: 'List the versions of a stored policy: hash, predecessor, who applied and approved.',
  usage: '<namespace/name> [options]',
  json: true,
  options: OWNER_OPTIONS,
  async run(inv) {
    const { namespace, name } = policyRef(inv, this)
    const client = await brokerClient(inv, true)
    try {
      const r = await policyHistory(client, namespace, name)
      if (inv.json) inv.io.out(JSON.stringify(r))
      else
        inv.io.out(
          renderTable(
            ['version', 'hash', 'predecessor', 'applied', 'by', 'approved by'],
            r.versions.map((v) => [
              v.version,
              short(v.hash),
              short(v.predecessor),
              v.createdAt,
              v.createdBy.slice(-12),
              v.approvedBy.map((o) => o.slice(-12)).join(', '),
            ]),
          ),
        )
    } finally {
      client.close()
    }
    return 0
  },
}

/** `subrosa policy diff` */
export const policyDiff: Command = {
  path: ['policy', 'diff'],
  summary: 'Show what changed between two versions of a stored policy, or against a draft file.',
  usage: '<namespace/name> [--from <version>] [--to <version> | --file <policy.yaml>] [options]',
  description:
    'Defaults: --to is the current version, --from the one before it. With --file, the draft is\n' +
    'compared with --from (default: the current version). Exit 0 when equal, 1 when they differ.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    from: { type: 'string', value: 'version', description: 'Old version' },
    to: { type: 'string', value: 'version', description: 'New version' },
    file: { type: 'string', value: 'policy.yaml', description: 'Compare with this draft' },
  },
  async run(inv) {
    const { namespace, name } = policyRef(inv, this)
    const file = stringOption(inv, 'file')
    if (file !== undefined && stringOption(inv, 'to') !== undefined)
      throw new CliError('ERR_CLI_USAGE', 'Give --to or --file, not both')
    const client = await brokerClient(inv, true)
    try {
      const history = await policyHistory(client, namespace, name)
      const current = (history.versions.at(-1)?.version as number) ?? 1
      const to = file === undefined ? (versionOption(inv, 'to') ?? current) : undefined
      const from = versionOption(inv, 'from') ?? (to === undefined ? current : Math.max(1, to - 1))
      const old = await policyVersion(client, namespace, name, from)
      const next =
        file === undefined
          ? (await policyVersion(client, namespace, name, to as number)).yaml
          : await readText(resolve(inv.io.cwd, file), 'the draft policy')
      const lines = lineDiff(old.yaml, next)
      const changed = lines.some((l) => l.op !== ' ')
      const target = file ?? `version ${to}`
      if (inv.json) inv.io.out(JSON.stringify({ from, to: target, changed, lines }))
      else {
        inv.io.out(`--- ${namespace}/${name} version ${from}\n+++ ${namespace}/${name} ${target}`)
        inv.io.out(lines.map((l) => `${l.op}${l.text}`).join('\n'))
      }
      return changed ? 1 : 0
    } finally {
      client.close()
    }
  },
}

/** `subrosa owner revoke` */
export const ownerRevoke: Command = {
  path: ['owner', 'revoke'],
  summary: 'Revoke your own owner key at the broker, for good (after a suspected compromise).',
  usage: '--yes [options]',
  description:
    'The key can no longer sign admin requests or policy approvals, and registering it again does\n' +
    "not undo this. Policies it owns keep their other owners; lower their thresholds first if this\nkey's approval would otherwise be needed.",
  json: true,
  options: {
    ...OWNER_OPTIONS,
    yes: { type: 'boolean', description: 'Confirm: this cannot be undone' },
  },
  async run(inv) {
    if (inv.options.yes !== true)
      throw new CliError('ERR_CLI_USAGE', 'Revocation cannot be undone: confirm with --yes')
    const client = await brokerClient(inv, true)
    try {
      const r = await revokeOwnKey(client)
      inv.io.out(inv.json ? JSON.stringify(r) : `Revoked owner key ${r.owner}`)
    } finally {
      client.close()
    }
    return 0
  },
}
