import { resolve } from 'node:path'
import { type Command, stringOption } from '../command.ts'
import { runDemo } from '../demo/run-demo.ts'
import { cliEntry } from '../entry.ts'
import { CliError } from '../errors.ts'
import { progressBar } from '../output.ts'

/** `subrosa demo` */
export const demo: Command = {
  path: ['demo'],
  summary:
    'Run the main job end to end on this machine, with no set-up (sim TEE, embedded broker).',
  usage: '[--rows N] [--dir <path>] [--keep] [--json]',
  description:
    'Starts an embedded broker on a loopback port, registers an owner key, creates dataset keys, generates a\n' +
    'deterministic synthetic NYC-taxi dataset, encrypts it, applies a policy pinning the job measurement, runs\n' +
    'the job through the launcher in a child process on the sim TEE, decrypts the result as the custodian, then\n' +
    'runs the job with one byte of its bundle changed and shows it is denied. Exits 0 only if both happened.',
  json: true,
  options: {
    rows: { type: 'string', value: 'N', description: 'Rows of synthetic data', default: '1000000' },
    dir: {
      type: 'string',
      value: 'path',
      description: 'Working directory to use and keep (default: a temp dir, removed)',
    },
    keep: { type: 'boolean', description: 'Keep the temp working directory' },
  },
  async run(inv) {
    const rows = Number(stringOption(inv, 'rows'))
    if (!Number.isSafeInteger(rows) || rows < 100 || rows > 500_000_000)
      throw new CliError('ERR_CLI_USAGE', '--rows must be an integer between 100 and 500000000')
    const dirOption = stringOption(inv, 'dir')
    const bar = progressBar(inv.io.stderrIsTty && !inv.json, inv.io.err, 'encrypt dataset')
    const report = await runDemo({
      rows,
      dir: dirOption === undefined ? undefined : resolve(inv.io.cwd, dirOption),
      keep: inv.options.keep === true,
      entry: cliEntry(),
      say: inv.json ? () => {} : (line) => inv.io.out(line),
      progress: (_label, done, total) => {
        bar.update(done, total)
        if (done >= total) bar.done()
      },
    })
    if (inv.json) inv.io.out(JSON.stringify(report))
    if (!report.ok)
      throw new CliError('ERR_CLI_DEMO', 'The demo did not reach both expected outcomes')
    return 0
  },
}
