import { mkdir, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { lintJob, parseJob, parsePolicy } from '@subrosa/policy'
import { stringify } from 'yaml'
import { type Command, listOption, positionals, stringOption } from '../command.ts'
import { readText } from '../config.ts'
import { CliError } from '../errors.ts'
import { type Manifest, manifestsYaml, renderSpark } from '../spark/render.ts'
import { validateManifests } from '../spark/validate.ts'

const WORKLOAD =
  /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?(?:\/[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?){2}$/

/** `subrosa spark render` */
export const sparkRender: Command = {
  path: ['spark', 'render'],
  summary:
    'Render a job for Spark on Kubernetes: a SparkApplication (or a raw driver Pod) whose pods attest first.',
  usage: '<job.yaml> [options]',
  description:
    'Driver and executor containers start `subrosa launch --spark-entrypoint`, which attests, writes the Spark\n' +
    'auth secret into an in-memory emptyDir and only then starts Spark. The Spark settings always include RPC\n' +
    'authentication from that file, AES-GCM RPC encryption, 256-bit I/O encryption, no UI, and Parquet modular\n' +
    'encryption through the broker as KMS (docs/spark.md). The query is translated to Spark SQL, or refused.\n' +
    'Rendered manifests are validated offline (JSON schema, Kubernetes models); nothing is applied.',
  json: true,
  options: {
    policy: {
      type: 'string',
      value: 'ns/policy/workload',
      description: "Workload the pods attest as (default: the job's policy)",
    },
    'policy-file': {
      type: 'string',
      value: 'file',
      description: 'Policy to check the job against first (keys granted, workload present)',
    },
    image: {
      type: 'string',
      value: 'ref',
      description: 'Image with Spark, the Subrosa launcher and the Spark runner',
      default: 'subrosa/spark:0.1.0',
    },
    namespace: {
      type: 'string',
      value: 'ns',
      description: 'Kubernetes namespace',
      default: 'default',
    },
    executors: { type: 'string', value: 'n', description: 'Executor count', default: '2' },
    broker: {
      type: 'string',
      value: 'url',
      description: 'Broker URL as the pods reach it',
      default: 'https://subrosa-broker.subrosa.svc:8443',
    },
    resource: {
      type: 'string',
      value: 'name=quantity',
      multiple: true,
      description:
        'Extended resource every Spark container requests, e.g. sgx.intel.com/epc=8Gi (SGX node pools)',
    },
    'node-selector': {
      type: 'string',
      value: 'key=value',
      multiple: true,
      description: 'Node label the pods need, e.g. a confidential-VM node pool',
    },
    'runtime-class': {
      type: 'string',
      value: 'name',
      description: 'RuntimeClass of the pods, e.g. kata-cc-tdx for Kata confidential containers',
    },
    'raw-pod': {
      type: 'boolean',
      description: 'Render a driver Pod running spark-submit, for clusters without the operator',
    },
    output: {
      type: 'string',
      short: 'o',
      value: 'dir',
      description: 'Write one YAML file per object into this directory instead of stdout',
    },
  },
  async run(inv) {
    const [file] = positionals(inv, sparkRender, ['job.yaml'])
    const job = parseJob(await readText(resolve(inv.io.cwd, file as string), 'the job file'))
    const workload = stringOption(inv, 'policy') ?? job.policy
    if (!WORKLOAD.test(workload))
      throw new CliError('ERR_CLI_USAGE', `--policy ${workload}: expected <ns>/<policy>/<workload>`)
    const executors = Number(stringOption(inv, 'executors'))
    if (!Number.isSafeInteger(executors) || executors < 1 || executors > 1000)
      throw new CliError('ERR_CLI_USAGE', '--executors must be an integer from 1 to 1000')
    const namespace = stringOption(inv, 'namespace') ?? 'default'
    if (!/^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace))
      throw new CliError('ERR_CLI_USAGE', `--namespace ${namespace}: expected a DNS label`)
    const policyFile = stringOption(inv, 'policy-file')
    if (policyFile !== undefined) {
      const policy = parsePolicy(await readText(resolve(inv.io.cwd, policyFile), 'the policy file'))
      const errors = lintJob({ ...job, policy: workload }, policy).filter(
        (f) => f.level === 'error',
      )
      if (errors.length > 0)
        throw new CliError(
          'ERR_CLI_JOB',
          `The job has ${errors.length} error(s) against the policy, first at ${errors[0]?.path}: ${errors[0]?.message}`,
        )
    }
    const manifests = renderSpark(job, {
      workload,
      image: stringOption(inv, 'image') ?? 'subrosa/spark:0.1.0',
      namespace,
      executors,
      broker: stringOption(inv, 'broker') ?? '',
      rawPod: inv.options['raw-pod'] === true,
      tee: {
        resources: pairs(listOption(inv, 'resource'), '--resource'),
        nodeSelector: pairs(listOption(inv, 'node-selector'), '--node-selector'),
        ...(stringOption(inv, 'runtime-class') === undefined
          ? {}
          : { runtimeClassName: stringOption(inv, 'runtime-class') as string }),
      },
    })
    validateManifests(manifests)
    const out = stringOption(inv, 'output')
    if (out === undefined) {
      inv.io.out(
        inv.json
          ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests })}\n`
          : manifestsYaml(manifests),
      )
      return 0
    }
    const dir = resolve(inv.io.cwd, out)
    await mkdir(dir, { recursive: true })
    const files: string[] = []
    for (const m of manifests) {
      const path = join(dir, fileName(m))
      await writeFile(path, stringify(m, { lineWidth: 0 }))
      files.push(path)
    }
    if (inv.json) inv.io.out(`${JSON.stringify({ ok: true, files })}\n`)
    else inv.io.out(`Wrote ${files.join(', ')}\n`)
    return 0
  },
}

/** `key=value` options as a record; the Kubernetes models check names and quantities. */
function pairs(values: readonly string[], option: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of values) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new CliError('ERR_CLI_USAGE', `${option} ${pair}: expected key=value`)
    out[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return out
}

function fileName(m: Manifest): string {
  return `${m.kind.toLowerCase()}.yaml`
}
