import { z } from 'zod'
import { parseYaml, validate } from './document.ts'

const ident = z
  .string()
  .max(63)
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an SQL identifier [A-Za-z_][A-Za-z0-9_]*')
  .refine((k) => k !== '__proto__', 'is reserved')

/** SQL identifiers are case-insensitive: `Trips` and `trips` would name the same view. */
const caseInsensitivelyUnique = (r: Record<string, unknown>, ctx: z.RefinementCtx): void => {
  const seen = new Set<string>()
  for (const k of Object.keys(r)) {
    if (seen.has(k.toLowerCase()))
      ctx.addIssue({ code: 'custom', path: [k], message: 'differs from another name only in case' })
    seen.add(k.toLowerCase())
  }
}
const LABEL = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?'
const keyRef = z.string().regex(new RegExp(`^${LABEL}/${LABEL}$`), 'must be <namespace>/<key>')

/** Where data lives: a path (relative to the job file), a `file:` URL, or an Azure Blob / ADLS Gen2 URL. */
const location = z.string().min(1).max(4096)
const encryptedInput = { uri: location, key: keyRef.optional() }
const sqlType = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9_ ,()[\]]{0,63}$/,
    'must be a DuckDB type such as INTEGER or DECIMAL(10,2)',
  )
/** Column types for CSV and JSON lines inputs; without them DuckDB infers the types. */
const columns = z.record(ident, sqlType).optional()
const query = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(1 << 20)

/** One input, by format. Every input is encrypted; `key`, when given, is checked before use. */
export const jobInputSchema = z.discriminatedUnion('format', [
  z.strictObject({
    format: z.literal('parquet'),
    ...encryptedInput,
    /** The AAD prefix (file identity, UTF-8) a file written with a supplied prefix needs. */
    aadPrefix: z.string().min(1).max(1024).optional(),
  }),
  z.strictObject({
    format: z.literal('csv'),
    ...encryptedInput,
    header: z.boolean().default(true),
    delimiter: z.string().length(1).default(','),
    columns,
  }),
  z.strictObject({ format: z.literal('jsonl'), ...encryptedInput, columns }),
  z.strictObject({
    format: z.literal('delta'),
    ...encryptedInput,
    /** A table version to read (time travel); the latest snapshot by default. */
    version: z.number().int().min(0).optional(),
  }),
])

const encryptedOutput = { uri: location, key: keyRef, query: query.optional() }

/** One output, by format. Each has its own query or uses the job's `query`. */
export const jobOutputSchema = z.discriminatedUnion('format', [
  z.strictObject({ format: z.literal('parquet'), ...encryptedOutput }),
  z.strictObject({
    format: z.literal('csv'),
    ...encryptedOutput,
    header: z.boolean().default(true),
  }),
  z.strictObject({ format: z.literal('jsonl'), ...encryptedOutput }),
  z.strictObject({
    format: z.literal('delta'),
    ...encryptedOutput,
    /** `append` adds a commit to an existing table (or creates it); nothing else is written. */
    mode: z.literal('append').default('append'),
    partitionBy: z.array(ident).max(8).optional(),
  }),
  z.strictObject({
    format: z.literal('postgres'),
    /** `postgres://user@host:port/database`; the password comes from the host (PGPASSWORD). */
    uri: z
      .string()
      .regex(
        /^postgres(ql)?:\/\/[^:@/]*@?[^@]*$/,
        'must be postgres://user@host/db without a password',
      ),
    table: z
      .string()
      .regex(
        /^([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$/,
        'must be [schema.]table in lower case',
      ),
    /** Wraps the column encryption keys (as SQL Server's column master key does). */
    key: keyRef,
    query: query.optional(),
    mode: z.enum(['create', 'append', 'replace']).default('create'),
    /** Columns stored as Always Encrypted cells, and how. */
    encryptedColumns: z.record(ident, z.enum(['deterministic', 'randomized'])).default({}),
  }),
])

const scalar = z.union([z.string().max(4096), z.number().finite(), z.boolean()])

export const jobSchema = z
  .strictObject({
    apiVersion: z.literal('subrosa/v1'),
    kind: z.literal('Job'),
    metadata: z.strictObject({
      name: z.string().regex(new RegExp(`^${LABEL}$`), 'must be a DNS label'),
    }),
    policy: z
      .string()
      .regex(new RegExp(`^${LABEL}/${LABEL}/${LABEL}$`), 'must be <namespace>/<policy>/<workload>'),
    engine: z.enum(['duckdb', 'spark']).default('duckdb'),
    inputs: z
      .record(ident, jobInputSchema)
      .refine((r) => Object.keys(r).length > 0, 'needs at least one input')
      .superRefine(caseInsensitivelyUnique),
    /** Named parameters, used in SQL as `$name` and bound, never spliced into the text. */
    parameters: z
      .record(
        ident.refine((k) => !k.toLowerCase().startsWith('subrosa_'), 'subrosa_ is reserved'),
        scalar,
      )
      .superRefine(caseInsensitivelyUnique)
      .optional(),
    /** The query of every output that has none of its own. */
    query: query.optional(),
    outputs: z
      .record(ident, jobOutputSchema)
      .refine((r) => Object.keys(r).length > 0, 'needs at least one output')
      .refine((r) => Object.keys(r).length <= 32, 'at most 32 outputs')
      .superRefine(caseInsensitivelyUnique),
    limits: z
      .strictObject({
        memory: z
          .string()
          .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/, 'must be like 512MB or 4GB')
          .optional(),
        threads: z.number().int().min(1).max(256).optional(),
      })
      .optional(),
  })
  .superRefine((job, ctx) => {
    for (const [name, output] of Object.entries(job.outputs)) {
      if (output.query === undefined && job.query === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['outputs', name, 'query'],
          message: 'is required when the job has no query',
        })
    }
  })

/** One input of a job. */
export type JobInput = z.output<typeof jobInputSchema>
/** One output of a job. */
export type JobOutput = z.output<typeof jobOutputSchema>

/** A validated job document. */
export type Job = z.output<typeof jobSchema>

/**
 * Parse and validate a job document (YAML 1.2, at most 1 MiB, loaded like a policy).
 *
 * @example parseJob(yamlText).inputs.trips?.uri // 'lake/trips.parquet'
 * @throws PolicyError `ERR_JOB_YAML` (`details.line`, `details.column`) or `ERR_JOB_INVALID`
 * (`details.errors`: one `path: reason` per violation, e.g. `outputs.fares.key: must be
 * <namespace>/<key>`; `details.path`: the first path).
 */
export function parseJob(yamlText: string): Job {
  return validateJob(parseYaml(yamlText, 'ERR_JOB_YAML', 'job'))
}

/**
 * Validate an already-parsed job document, as {@link parseJob}.
 *
 * @example validateJob({ apiVersion: 'subrosa/v1', kind: 'Job', ... })
 * @throws PolicyError `ERR_JOB_INVALID` with `details.errors` and `details.path`.
 */
export function validateJob(doc: unknown): Job {
  return validate(jobSchema, doc, 'ERR_JOB_INVALID', 'job')
}
