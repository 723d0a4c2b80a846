import { dirname, resolve } from 'node:path'
import { azureCredentialsFromEnv, checkJob, createStoreResolver } from '@subrosa/engine'
import {
  type Job,
  type JobFinding,
  lintJob,
  type Policy,
  parseJob,
  parsePolicy,
  validatePolicy,
} from '@subrosa/policy'
import { policyHistory, policyVersion } from '@subrosa/sdk'
import { type Command, type Invocation, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS, readText } from '../config.ts'
import { CliError } from '../errors.ts'
import { renderTable } from '../output.ts'

/** Azure Blob credentials from the Azure CLI's environment variables, when set. */
export function azureOption(env: Readonly<Record<string, string | undefined>>) {
  const azure = azureCredentialsFromEnv(env)
  return azure === undefined ? {} : { azure }
}

/**
 * Every finding about a job: offline checks (queries, inputs and the keys they name) and, when a
 * policy is given, the lint against it. Undeclared input keys read from the files are checked too.
 */
export async function validateJobFile(
  jobPath: string,
  policy: Policy | undefined,
  env: Readonly<Record<string, string | undefined>> = {},
): Promise<{ job: Job; findings: JobFinding[] }> {
  const job = parseJob(await readText(jobPath, 'the job file'))
  const baseDir = dirname(jobPath)
  const checked = await checkJob(job, {
    baseDir,
    resolveStore: createStoreResolver({ baseDir, ...azureOption(env) }),
  })
  const findings = [...checked.findings]
  if (policy !== undefined) {
    const inputs = Object.fromEntries(
      Object.entries(job.inputs).map(([name, input]) => {
        const key = input.key ?? checked.inputKeys[name]
        return [name, key === undefined ? input : { ...input, key }]
      }),
    )
    findings.push(...lintJob({ ...job, inputs } as Job, policy))
  }
  const order = (f: JobFinding) => (f.level === 'error' ? 0 : 1)
  return { job, findings: findings.sort((a, b) => order(a) - order(b)) }
}

async function policyFor(inv: Invocation, job: Job): Promise<Policy> {
  const file = stringOption(inv, 'policy-file')
  if (file !== undefined)
    return parsePolicy(await readText(resolve(inv.io.cwd, file), 'the policy file'))
  const [namespace = '', name = ''] = job.policy.split('/')
  const client = await brokerClient(inv, true)
  try {
    const history = await policyHistory(client, namespace, name)
    const latest = history.versions.at(-1)
    if (latest === undefined)
      throw new CliError('ERR_CLI_USAGE', `The broker has no policy ${namespace}/${name}`)
    return validatePolicy((await policyVersion(client, namespace, name, latest.version)).policy)
  } finally {
    client.close()
  }
}

/** `subrosa job validate` */
export const jobValidate: Command = {
  path: ['job', 'validate'],
  summary: 'Lint a job against its policy before running it: keys, parameters, queries, inputs.',
  usage: '<job.yaml> [--policy-file <policy.yaml>] [options]',
  description:
    'Checks, without keys: each query parses as one SELECT reading only the inputs by name; each local\n' +
    'input exists and is encrypted under the key the job names; every $parameter is declared; and the\n' +
    "policy's workload is granted unwrap on every input key and wrap on every output key. The policy is\n" +
    '--policy-file, or else the current version stored in the broker (owner credentials).\n' +
    'Exit 0 when there is no error (warnings allowed), 1 otherwise.',
  json: true,
  options: {
    ...OWNER_OPTIONS,
    'policy-file': {
      type: 'string',
      value: 'file',
      description: 'Policy to check against, instead of the one in the broker',
    },
  },
  async run(inv) {
    const [file = ''] = positionals(inv, this, ['job.yaml'])
    const jobPath = resolve(inv.io.cwd, file)
    const job = parseJob(await readText(jobPath, 'the job file'))
    const policy = await policyFor(inv, job)
    const { findings } = await validateJobFile(jobPath, policy, inv.io.env)
    const errors = findings.filter((f) => f.level === 'error').length
    if (inv.json) inv.io.out(JSON.stringify({ ok: errors === 0, job: job.metadata.name, findings }))
    else if (findings.length === 0)
      inv.io.out(`Job ${job.metadata.name}: no findings under ${job.policy}`)
    else {
      inv.io.out(
        renderTable(
          ['level', 'where', 'check', 'finding'],
          findings.map((f) => [f.level, f.path, f.check, f.message]),
        ),
      )
      inv.io.out(`${errors} error(s), ${findings.length - errors} warning(s)`)
    }
    return errors === 0 ? 0 : 1
  },
}
