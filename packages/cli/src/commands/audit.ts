import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { verifyAuditExport } from '@subrosa/protocol'
import { exportAudit, fetchJwks } from '@subrosa/sdk'
import type { JWK } from 'jose'
import { type Command, positionals, stringOption } from '../command.ts'
import { brokerClient, CONNECTION_OPTIONS, OWNER_OPTIONS, readJson, readText } from '../config.ts'
import { CliError } from '../errors.ts'

/** `subrosa audit export` */
export const auditExport: Command = {
  path: ['audit', 'export'],
  summary: "Export the broker's audit log (JSON lines) up to a checkpoint the broker signs now.",
  usage: '-o <file> [options]',
  description:
    "Entries of your namespaces (and broker-wide ones) carry their data; other namespaces' entries\n" +
    'only their data hash, so the chain still verifies. Keep exports off the broker host: a later\n' +
    'export that disagrees with an earlier one shows a rewrite. Check with subrosa audit verify.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    output: { type: 'string', short: 'o', value: 'file', description: 'Write the export here' },
  },
  async run(inv) {
    const out = stringOption(inv, 'output')
    if (out === undefined) throw new CliError('ERR_CLI_USAGE', 'Name the export file with -o')
    const client = await brokerClient(inv, true)
    try {
      const text = await exportAudit(client)
      await writeFile(resolve(inv.io.cwd, out), text, { mode: 0o600 })
      const entries = text.split('\n').filter((l) => l.startsWith('{"type":"entry"')).length
      inv.io.out(
        inv.json ? JSON.stringify({ file: out, entries }) : `Exported ${entries} entries to ${out}`,
      )
    } finally {
      client.close()
    }
    return 0
  },
}

/** `subrosa audit verify` */
export const auditVerify: Command = {
  path: ['audit', 'verify'],
  summary: 'Verify an audit export: hash chain, data hashes and checkpoints signed by the broker.',
  usage: '<export file> [--jwks <file>] [--previous <export file>] [options]',
  description:
    "The broker's public keys come from --jwks, or from the broker over the pinned CA. With\n" +
    '--previous, every entry of an earlier export must be unchanged in this one. Exit 0 when it\n' +
    'verifies, 1 with the first bad entry otherwise.',
  json: true,
  options: {
    ...CONNECTION_OPTIONS,
    jwks: { type: 'string', value: 'file', description: "The broker's JWKS (offline check)" },
    previous: { type: 'string', value: 'file', description: 'An earlier export to compare' },
  },
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['export file'])
    const text = await readText(resolve(inv.io.cwd, file), 'the audit export')
    const jwksFile = stringOption(inv, 'jwks')
    let jwks: { keys: JWK[] }
    if (jwksFile !== undefined) {
      jwks = (await readJson(resolve(inv.io.cwd, jwksFile), 'the JWKS (--jwks)')) as {
        keys: JWK[]
      }
    } else {
      const client = await brokerClient(inv, false)
      try {
        jwks = (await fetchJwks(client)) as { keys: JWK[] }
      } finally {
        client.close()
      }
    }
    const summary = await verifyAuditExport(text, jwks)
    const previousFile = stringOption(inv, 'previous')
    if (previousFile !== undefined) {
      const previous = await readText(resolve(inv.io.cwd, previousFile), 'the previous export')
      await verifyAuditExport(previous, jwks)
      comparePrefix(previous, text)
    }
    if (inv.json) inv.io.out(JSON.stringify({ verified: true, ...summary }))
    else
      inv.io.out(
        `Verified ${summary.entries} entries (${summary.withheld} of other namespaces by hash only), ` +
          `${summary.checkpoints} signed checkpoint(s), head ${summary.head.slice(0, 16)}…`,
      )
    return 0
  },
}

/** Every entry hash of `earlier` appears, at the same sequence number, in `later`. */
function comparePrefix(earlier: string, later: string): void {
  const hashes = (t: string) =>
    new Map(
      t
        .split('\n')
        .filter((l) => l.startsWith('{"type":"entry"'))
        .map((l) => JSON.parse(l) as { seq: number; hash: string })
        .map((e) => [e.seq, e.hash]),
    )
  const now = hashes(later)
  for (const [seq, hash] of hashes(earlier)) {
    if (now.get(seq) !== hash) {
      throw new CliError(
        'ERR_CLI_AUDIT',
        `Entry ${seq} differs from the previous export: the log was rewritten`,
        { details: { seq } },
      )
    }
  }
}
