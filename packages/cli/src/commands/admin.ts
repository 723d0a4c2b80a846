import { resolve } from 'node:path'
import { applyPolicy, readAudit } from '@subrosa/sdk'
import { type Command, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS, readText } from '../config.ts'
import { renderTable } from '../output.ts'

/** `subrosa policy apply` */
export const policyApply: Command = {
  path: ['policy', 'apply'],
  summary: 'Validate a policy document and apply it as a new version, signed with the owner key.',
  usage: '<policy.yaml> [options]',
  description:
    'Validation errors name the path of each problem (e.g. workloads[0].accept[0].measurement).',
  json: true,
  options: OWNER_OPTIONS,
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['policy.yaml'])
    const yaml = await readText(resolve(inv.io.cwd, file), 'the policy file')
    const client = await brokerClient(inv, true)
    try {
      const r = await applyPolicy(client, yaml)
      inv.io.out(
        inv.json
          ? JSON.stringify(r)
          : `${r.created ? 'Applied' : 'Unchanged'} ${r.namespace}/${r.name} version ${r.version} (${r.hash})`,
      )
    } finally {
      client.close()
    }
    return 0
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
