import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { convertSconeSession } from '@subrosa/policy'
import { type Command, listOption, positionals, stringOption } from '../command.ts'
import { ownerCredentials, readText } from '../config.ts'
import { CliError } from '../errors.ts'

/** `subrosa policy import-scone` */
export const policyImportScone: Command = {
  path: ['policy', 'import-scone'],
  summary: 'Convert a SCONE CAS session (YAML, language 0.3) into a Subrosa policy.',
  usage: '<session.yaml> --namespace <ns> [-o policy.yaml] [--owner <id>]... [--skip-unsupported]',
  description:
    'Services become workloads (mrenclaves -> sgx accept clauses, environment -> inject.env, command\n' +
    'arguments -> inject.args, injection files -> inject.files under /run/subrosa/), secrets become\n' +
    'generated or imported secrets (values are never copied), export becomes grants, tolerate and\n' +
    'ignore_advisories become TCB statuses, advisories and debug. stderr lists what was mapped and\n' +
    'what was not; constructs Subrosa cannot express (@@ host values, fspf, volumes, x509-ca, ...)\n' +
    'are refused with ERR_POLICY_SCONE_UNSUPPORTED unless --skip-unsupported. Owners: --owner ids,\n' +
    'else the key of --owner-key.',
  json: true,
  options: {
    namespace: { type: 'string', value: 'ns', description: 'Namespace of the new policy' },
    output: {
      type: 'string',
      short: 'o',
      value: 'file',
      description: 'Write the policy here (default: stdout)',
    },
    owner: {
      type: 'string',
      multiple: true,
      value: 'id',
      description: 'Owner key id (JWK thumbprint URI) of the policy; repeatable',
    },
    'owner-key': {
      type: 'string',
      value: 'file',
      description: 'Owner private key (JWK) whose id owns the policy when no --owner is given',
      default: 'owner.jwk',
    },
    'skip-unsupported': {
      type: 'boolean',
      description: 'Leave unsupported constructs out (they are still listed) instead of refusing',
    },
  },
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['session.yaml'])
    const namespace = stringOption(inv, 'namespace')
    if (namespace === undefined) throw new CliError('ERR_CLI_USAGE', 'Need --namespace')
    const given = listOption(inv, 'owner')
    const owners = given.length > 0 ? given : [(await ownerCredentials(inv)).id]
    const yaml = await readText(resolve(inv.io.cwd, file), 'the SCONE session')
    const r = convertSconeSession(yaml, {
      namespace,
      owners,
      skipUnsupported: inv.options['skip-unsupported'] === true,
    })
    for (const m of r.mapped) inv.io.err(`mapped: ${m}\n`)
    for (const u of r.unsupported) inv.io.err(`NOT CONVERTED: ${u}\n`)
    const output = stringOption(inv, 'output')
    if (output !== undefined) {
      const path = resolve(inv.io.cwd, output)
      try {
        await writeFile(path, r.yaml)
      } catch (cause) {
        throw new CliError('ERR_CLI_FILE', `Cannot write the policy to ${path}`, { cause })
      }
      inv.io.out(
        inv.json
          ? JSON.stringify({ output: path, mapped: r.mapped, unsupported: r.unsupported })
          : `Wrote ${r.policy.metadata.namespace}/${r.policy.metadata.name} to ${path}`,
      )
    } else
      inv.io.out(
        inv.json
          ? JSON.stringify({ yaml: r.yaml, mapped: r.mapped, unsupported: r.unsupported })
          : r.yaml.trimEnd(),
      )
    return 0
  },
}
