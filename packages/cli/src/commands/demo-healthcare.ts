import { resolve } from 'node:path'
import { type Command, stringOption } from '../command.ts'
import { CliError } from '../errors.ts'
import { runHealthcareDemo } from '../healthcare/run-demo.ts'

/** `subrosa demo healthcare` */
export const demoHealthcare: Command = {
  path: ['demo', 'healthcare'],
  summary:
    'Run the healthcare chain on this machine: clerk -> attested API -> sealed Redis -> attested diagnostics (sim TEE).',
  usage: '[--dir <path>] [--keep] [--json]',
  description:
    'Starts an embedded broker (sim TEE: INSECURE, labelled so), a TLS-only redis-server (redis-server must be\n' +
    'installed) with certificates from the broker CA, trains the WDBC model from the breast_cancer.csv of\n' +
    'python3-sklearn and encrypts it under a broker key, starts two diagnostics replicas and the API of\n' +
    'examples/healthcare, sends one record from an attested clerk client, and prints what each hop verified,\n' +
    'the diagnosis, and the refusal of a replayed token. Exits 0 only if both happened.',
  json: true,
  options: {
    dir: {
      type: 'string',
      value: 'path',
      description: 'Working directory to use and keep (default: a temp dir, removed)',
    },
    keep: { type: 'boolean', description: 'Keep the temp working directory' },
  },
  async run(inv) {
    const dirOption = stringOption(inv, 'dir')
    const report = await runHealthcareDemo({
      dir: dirOption === undefined ? undefined : resolve(inv.io.cwd, dirOption),
      keep: inv.options.keep === true,
      say: inv.json ? () => {} : (line) => inv.io.out(line),
    })
    if (inv.json) inv.io.out(JSON.stringify(report))
    if (!report.ok)
      throw new CliError('ERR_CLI_DEMO', 'The healthcare demo did not reach both expected outcomes')
    return 0
  },
}
