import { BaseError } from '@subrosa/core'

/** Codes of `cli`, each with the one-line meaning published in docs/errors.md. */
export const CLI_ERRORS = {
  ERR_CLI_USAGE: 'The command line is not valid for this command (see --help).',
  ERR_CLI_FILE: 'A file named on the command line cannot be read or written.',
  ERR_CLI_AUDIT: 'A later audit export disagrees with an earlier one: the log was rewritten.',
  ERR_CLI_JOB:
    'The job has errors that checks before running found (subrosa job validate lists them).',
  ERR_SPARK_SQL:
    'The job query uses a construct with no Spark SQL translation (named in the message); nothing was rendered.',
  ERR_SPARK_UNSUPPORTED:
    'The job has an input or output Spark cannot read or write confidentially (csv/jsonl streaming AEAD, delta, postgres).',
  ERR_SPARK_PLAN:
    'The Spark runner (run_job.py, in the pod) refused its plan: not a SparkPlan, or an output column name that parquet column.keys cannot hold (, ; :).',
  ERR_SPARK_MANIFEST:
    'A rendered Spark manifest does not validate against its schema (a bug in the renderer).',
  ERR_CLI_DEMO:
    'The demo did not reach both expected outcomes (allowed job, denied tampered job; for demo healthcare: a diagnosis, a refused replayed token).',
  ERR_CLI_MISSING_TOOL:
    'A program the command runs is not installed (named in the message, e.g. redis-server for `subrosa demo healthcare`).',
  ERR_CLI_DATABASE:
    'The database named on the command line cannot be reached or refused the query (its SQLSTATE is shown).',
  ERR_CLI_PORTAL:
    'The portal cannot be served: it is not built, its port is taken, or the broker does not answer with the pinned CA.',
} as const

export type CliErrorCode = keyof typeof CLI_ERRORS

export class CliError extends BaseError<CliErrorCode> {}
