import type { Job } from '@subrosa/policy'
import { CliError } from '../errors.ts'
import { translateSql } from './translate-sql.ts'

type Scalar = string | number | boolean

/** One input, read as a temporary view over `spark.read.parquet(path)`. */
export type SparkView = {
  readonly name: string
  readonly path: string
  /** The master key the job declares for it (`<ns>/<key>`); the runner checks the files. */
  readonly masterKeyId?: string
}

/** One output, written with Parquet modular encryption under its master key. */
export type SparkOutput = {
  readonly name: string
  readonly path: string
  readonly sql: string
  readonly parameters: readonly string[]
  /**
   * Hadoop options of the write: footer key, and the key every column is encrypted with. The runner
   * sets `parquet.encryption.column.keys` to `<columnKey>:<every column of the result>`, since the
   * columns are known only once the query is planned.
   */
  readonly encryption: {
    readonly 'parquet.encryption.footer.key': string
    readonly 'parquet.encryption.column.keys': string
  }
}

/**
 * What the Subrosa Spark runner executes (`plan.json` in the job's ConfigMap): no key, token or
 * secret, only names, paths, Spark SQL and parameter values from the job.
 */
export type SparkPlan = {
  readonly apiVersion: 'subrosa/v1'
  readonly kind: 'SparkPlan'
  readonly job: string
  readonly workload: string
  readonly views: readonly SparkView[]
  readonly parameters: Readonly<Record<string, Scalar>>
  readonly outputs: readonly SparkOutput[]
}

const SCHEMES = /^(abfss|abfs|s3a|gs|hdfs):\/\/[^\s]+$/
const AZURE_HTTPS = /^https:\/\/([a-z0-9]{3,24})\.(?:blob|dfs)\.core\.windows\.net\/([^/]+)\/(.+)$/

/**
 * A job location as a Hadoop path Spark pods can reach: Azure Blob / ADLS Gen2 HTTPS URLs become
 * `abfss://<container>@<account>.dfs.core.windows.net/<path>`; `abfss`, `abfs`, `s3a`, `gs` and
 * `hdfs` URLs are kept; local paths and `file:` URLs are refused (no pod can read them).
 *
 * @throws CliError `ERR_SPARK_UNSUPPORTED`.
 */
export function sparkPath(uri: string, where: string): string {
  const azure = AZURE_HTTPS.exec(uri)
  if (azure !== null) return `abfss://${azure[2]}@${azure[1]}.dfs.core.windows.net/${azure[3]}`
  if (SCHEMES.test(uri)) return uri
  throw new CliError(
    'ERR_SPARK_UNSUPPORTED',
    `${where}: ${uri} is not reachable from Spark pods (use an Azure Blob / ADLS Gen2, abfss, s3a, gs or hdfs URL)`,
    { details: { path: where } },
  )
}

/**
 * Master key ids in the short form `<ns>/<key>`, which the broker reads as `subrosa:<ns>/<key>`:
 * parquet-java's `column.keys` syntax (`<id>:<col>,<col>;...`) cannot hold the `:` of the long
 * form. Wrapped keys are bound to the id as written, so files Spark writes carry the short form.
 */
const masterKeyId = (ref: string): string => ref

/**
 * Turn a job into the plan the Spark runner executes, refusing what Spark cannot do as the DuckDB
 * engine does: inputs other than Parquet (CSV and JSON lines are Subrosa streaming-AEAD files;
 * Delta needs delta-spark and its own key handling), Parquet inputs with a supplied AAD prefix,
 * outputs other than Parquet (PostgreSQL outputs need Always Encrypted cells written by the
 * engine), queries that do not translate ({@link translateSql}), and undeclared parameters.
 *
 * @throws CliError `ERR_SPARK_UNSUPPORTED` (`details.path`), `ERR_SPARK_SQL`.
 */
export function sparkPlan(job: Job, workload: string): SparkPlan {
  const views: SparkView[] = []
  for (const [name, input] of Object.entries(job.inputs)) {
    const where = `inputs.${name}`
    if (input.format !== 'parquet')
      throw new CliError(
        'ERR_SPARK_UNSUPPORTED',
        `${where}: ${input.format} inputs cannot be read by Spark (${input.format === 'delta' ? 'Delta tables need delta-spark and Subrosa key handling' : 'Subrosa streaming-AEAD files have no Spark reader'}); convert them to encrypted Parquet`,
        { details: { path: where } },
      )
    if (input.aadPrefix !== undefined)
      throw new CliError(
        'ERR_SPARK_UNSUPPORTED',
        `${where}: Parquet files with a supplied AAD prefix cannot be read through PropertiesDrivenCryptoFactory`,
        { details: { path: `${where}.aadPrefix` } },
      )
    views.push({
      name,
      path: sparkPath(input.uri, `${where}.uri`),
      ...(input.key === undefined ? {} : { masterKeyId: masterKeyId(input.key) }),
    })
  }
  const declared = job.parameters ?? {}
  const outputs: SparkOutput[] = []
  for (const [name, output] of Object.entries(job.outputs)) {
    const where = `outputs.${name}`
    if (output.format !== 'parquet')
      throw new CliError(
        'ERR_SPARK_UNSUPPORTED',
        `${where}: ${output.format} outputs cannot be written by Spark with Subrosa encryption (${output.format === 'postgres' ? 'Always Encrypted cells are written by the DuckDB engine' : 'only Parquet modular encryption is available in Spark'})`,
        { details: { path: where } },
      )
    const query = output.query ?? job.query
    if (query === undefined)
      throw new CliError('ERR_SPARK_UNSUPPORTED', `${where}: no query`, {
        details: { path: `${where}.query` },
      })
    const { sql, parameters } = translateSql(query)
    for (const p of parameters)
      if (!Object.hasOwn(declared, p))
        throw new CliError(
          'ERR_SPARK_SQL',
          `Cannot translate the parameter $${p} to Spark SQL: the job does not declare it`,
          { details: { construct: `$${p}` } },
        )
    const key = masterKeyId(output.key)
    outputs.push({
      name,
      path: sparkPath(output.uri, `${where}.uri`),
      sql,
      parameters,
      encryption: {
        'parquet.encryption.footer.key': key,
        'parquet.encryption.column.keys': key,
      },
    })
  }
  return {
    apiVersion: 'subrosa/v1',
    kind: 'SparkPlan',
    job: job.metadata.name,
    workload,
    views,
    parameters: declared,
    outputs,
  }
}
