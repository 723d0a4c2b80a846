import type { Job } from './job.ts'
import { parsePolicyRef, workloadKeyAllowed } from './policy.ts'
import type { Policy } from './schema.ts'

/** One finding of {@link lintJob}: an error stops `subrosa run`, a warning does not. */
export type JobFinding = {
  readonly level: 'error' | 'warning'
  /** Stable identifier of the check (`key-not-granted`, `parameter-undeclared`, ...). */
  readonly check: string
  /** Where in the job (`inputs.trips.key`). */
  readonly path: string
  readonly message: string
}

/**
 * Check a job against the policy it runs under, without running anything: the policy and
 * workload it names exist, every key it names is granted to that workload for the operation the
 * job needs (`unwrap` for inputs, `wrap` for outputs, both to append to an encrypted PostgreSQL
 * table), and every `$parameter` its queries use is declared (and every declared one used).
 *
 * @example lintJob(parseJob(jobYaml), parsePolicy(policyYaml)).filter((f) => f.level === 'error')
 */
export function lintJob(job: Job, policy: Policy): JobFinding[] {
  const findings: JobFinding[] = []
  const error = (check: string, path: string, message: string) =>
    findings.push({ level: 'error', check, path, message })
  const warning = (check: string, path: string, message: string) =>
    findings.push({ level: 'warning', check, path, message })
  const ref = parsePolicyRef(job.policy)
  if (
    ref === undefined ||
    ref.namespace !== policy.metadata.namespace ||
    ref.policy !== policy.metadata.name
  ) {
    error(
      'policy-mismatch',
      'policy',
      `The job runs under ${job.policy}, not under policy ${policy.metadata.namespace}/${policy.metadata.name}`,
    )
    return findings
  }
  const workload = policy.workloads.find((w) => w.name === ref.workload)
  if (workload === undefined) {
    error(
      'workload-missing',
      'policy',
      `Policy ${ref.namespace}/${ref.policy} has no workload ${ref.workload} (it has: ${policy.workloads.map((w) => w.name).join(', ')})`,
    )
    return findings
  }
  const need = (path: string, key: string, operation: 'wrap' | 'unwrap', why: string) => {
    const [ns = '', name = ''] = key.split('/')
    if (!workloadKeyAllowed(workload, ns, name, operation))
      error(
        'key-not-granted',
        path,
        `Workload ${job.policy} is not granted ${key}:${operation}, which ${why}`,
      )
  }
  for (const [name, input] of Object.entries(job.inputs)) {
    if (input.key === undefined)
      warning(
        'key-undeclared',
        `inputs.${name}.key`,
        `Input ${name} names no key: the key it is encrypted under is only checked when the job runs`,
      )
    else need(`inputs.${name}.key`, input.key, 'unwrap', `reading input ${name} needs`)
  }
  for (const [name, output] of Object.entries(job.outputs)) {
    need(`outputs.${name}.key`, output.key, 'wrap', `writing output ${name} needs`)
    if (output.format === 'postgres' && output.mode === 'append')
      need(
        `outputs.${name}.key`,
        output.key,
        'unwrap',
        `appending to the encrypted columns of ${output.table} needs (their keys exist already)`,
      )
  }
  const declared = Object.keys(job.parameters ?? {})
  const used = new Set<string>()
  const queries: [string, string][] = []
  if (job.query !== undefined) queries.push(['query', job.query])
  for (const [name, output] of Object.entries(job.outputs))
    if (output.query !== undefined) queries.push([`outputs.${name}.query`, output.query])
  for (const [path, query] of queries) {
    for (const parameter of queryParameters(query)) {
      used.add(parameter)
      if (!declared.includes(parameter))
        error(
          'parameter-undeclared',
          path,
          `The query uses $${parameter}, which the job's parameters do not declare`,
        )
    }
  }
  for (const parameter of declared)
    if (!used.has(parameter))
      warning(
        'parameter-unused',
        `parameters.${parameter}`,
        `Parameter ${parameter} is declared but no query uses it`,
      )
  if (job.query !== undefined && Object.values(job.outputs).every((o) => o.query !== undefined))
    warning('query-unused', 'query', 'Every output has its own query: the job query is not used')
  return findings
}

/**
 * The named parameters (`$name`) a query uses, outside string literals, quoted identifiers and
 * comments. Positional parameters (`$1`) are not named parameters and are not returned.
 *
 * @example queryParameters("SELECT * FROM t WHERE a > $min AND b = '$not'") // ['min']
 */
export function queryParameters(sql: string): string[] {
  const found = new Set<string>()
  let i = 0
  while (i < sql.length) {
    const c = sql[i] as string
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1)
      i = end === -1 ? sql.length : end + 1
    } else if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i)
      i = end === -1 ? sql.length : end + 1
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2)
      i = end === -1 ? sql.length : end + 2
    } else if (sql.startsWith('$$', i)) {
      const end = sql.indexOf('$$', i + 2)
      i = end === -1 ? sql.length : end + 2
    } else if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(sql.slice(i, i + 80))
      if (m !== null) found.add(m[1] as string)
      i += m === null ? 1 : m[0].length
    } else i++
  }
  return [...found]
}
