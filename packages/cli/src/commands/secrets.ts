import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { parsePolicyRef } from '@subrosa/policy'
import { importSecret, listSecrets } from '@subrosa/sdk'
import { type Command, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS } from '../config.ts'
import { CliError } from '../errors.ts'
import { renderTable } from '../output.ts'

/** `subrosa secret import` */
export const secretImport: Command = {
  path: ['secret', 'import'],
  summary: 'Set the value of a secret its policy declares with `import: true`, signed by an owner.',
  usage: '<ns>/<policy>/<name> (--file <path> | --from-env <VAR>) [options]',
  description:
    'The value is read as bytes from a file or from an environment variable, never from the command\n' +
    'line. Importing again replaces the value; the broker audits the length only.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    file: { type: 'string', value: 'path', description: 'File holding the value (raw bytes)' },
    'from-env': {
      type: 'string',
      value: 'VAR',
      description: 'Environment variable holding the value (UTF-8)',
    },
  },
  async run(inv) {
    const [ref = ''] = positionals(inv, this, ['ns/policy/name'])
    const parsed = parsePolicyRef(ref)
    if (parsed === undefined)
      throw new CliError('ERR_CLI_USAGE', 'The secret must be named <namespace>/<policy>/<name>')
    const file = stringOption(inv, 'file')
    const variable = stringOption(inv, 'from-env')
    if ((file === undefined) === (variable === undefined))
      throw new CliError('ERR_CLI_USAGE', 'Need exactly one of --file or --from-env')
    let value: Uint8Array
    if (file !== undefined) {
      try {
        value = new Uint8Array(await readFile(resolve(inv.io.cwd, file)))
      } catch (cause) {
        throw new CliError('ERR_CLI_FILE', `Cannot read the secret file ${file}`, { cause })
      }
    } else {
      const text = inv.io.env[variable as string]
      if (text === undefined || text === '')
        throw new CliError('ERR_CLI_USAGE', `Environment variable ${variable} is not set`)
      value = new TextEncoder().encode(text)
    }
    const client = await brokerClient(inv, true)
    try {
      const r = await importSecret(
        client,
        { namespace: parsed.namespace, policy: parsed.policy, name: parsed.workload },
        value,
      )
      inv.io.out(
        inv.json
          ? JSON.stringify(r)
          : `${r.replaced ? 'Replaced' : 'Imported'} ${r.namespace}/${r.policy}/${r.name} (${r.bytes} bytes)`,
      )
    } finally {
      value.fill(0)
      client.close()
    }
    return 0
  },
}

/** `subrosa secret list` */
export const secretList: Command = {
  path: ['secret', 'list'],
  summary: "List a policy's secrets: kind, whether a value is stored, certificate expiry.",
  usage: '<ns>/<policy> [options]',
  description:
    'Shows no secret value. With --json, public keys and certificates (PEM) are included.',
  json: true,
  options: OWNER_OPTIONS,
  async run(inv) {
    const [ref = ''] = positionals(inv, this, ['ns/policy'])
    const [namespace, policy, ...rest] = ref.split('/')
    if (namespace === '' || policy === undefined || policy === '' || rest.length > 0)
      throw new CliError('ERR_CLI_USAGE', 'The policy must be named <namespace>/<policy>')
    const client = await brokerClient(inv, true)
    try {
      const r = await listSecrets(client, namespace as string, policy)
      inv.io.out(
        inv.json
          ? JSON.stringify(r)
          : renderTable(
              ['name', 'kind', 'stored', 'not after'],
              r.secrets.map((s) => [
                s.name,
                s.kind,
                s.kind === 'derive' ? 'per workload' : s.stored ? 'yes' : 'NO',
                s.notAfter ?? '',
              ]),
            ),
      )
    } finally {
      client.close()
    }
    return 0
  },
}
