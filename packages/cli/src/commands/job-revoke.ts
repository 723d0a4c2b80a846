import { type Command, positionals } from '../command.ts'
import { brokerClient, OWNER_OPTIONS } from '../config.ts'
import { CliError } from '../errors.ts'

const LABEL = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?'
const WORKLOAD = new RegExp(`^(${LABEL})/(${LABEL})/(${LABEL})$`)
const JOB_ID = /^[a-z0-9](?:[-a-z0-9.]{0,61}[a-z0-9])?$/

/** `subrosa job revoke` */
export const jobRevoke: Command = {
  path: ['job', 'revoke'],
  summary: 'Cancel a job at the broker: its tokens stop releasing keys and secrets, for good.',
  usage: '<ns>/<policy>/<workload> <job-id> [options]',
  description:
    "A job is one run of a policy workload (for Spark, the application id in the pods' spark-app-selector\n" +
    'label). Every token issued for it is refused from now on (ERR_TOKEN_REVOKED) on every broker replica,\n' +
    'and no pod may attest for it again (ERR_JOB_REVOKED). Audited as job.revoke. Drivers rendered by\n' +
    'subrosa spark render end their own job when Spark exits; this is for cancelling one.',
  json: true,
  options: OWNER_OPTIONS,
  async run(inv) {
    const [workload = '', job = ''] = positionals(inv, jobRevoke, ['ns/policy/workload', 'job-id'])
    const m = WORKLOAD.exec(workload)
    if (m === null || !JOB_ID.test(job))
      throw new CliError(
        'ERR_CLI_USAGE',
        'Expected <ns>/<policy>/<workload> and a job id of lower-case letters, digits, dots and dashes',
      )
    const client = await brokerClient(inv, true)
    try {
      const path = `/admin/v0/jobs/${m[1]}/${m[2]}/${m[3]}/${job}/revoke`
      const r = (await client.call('POST', path, { kind: 'owner' })).body as {
        revoked: boolean
        tokens: number
      }
      inv.io.out(
        inv.json
          ? JSON.stringify(r)
          : r.revoked
            ? `Revoked job ${job} of ${workload}: ${r.tokens} live token(s) refused from now on`
            : `Job ${job} of ${workload} was already revoked`,
      )
    } finally {
      client.close()
    }
    return 0
  },
}
