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

export const jobSchema = z.strictObject({
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
    .record(
      ident,
      z.strictObject({
        format: z.literal('parquet'),
        uri: z.string().min(1),
        key: keyRef.optional(),
        /** The AAD prefix (file identity, UTF-8) a file written with a supplied prefix needs. */
        aadPrefix: z.string().min(1).max(1024).optional(),
      }),
    )
    .refine((r) => Object.keys(r).length > 0, 'needs at least one input')
    .superRefine(caseInsensitivelyUnique),
  query: z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(1 << 20),
  outputs: z
    .record(
      ident,
      z.strictObject({ format: z.literal('parquet'), uri: z.string().min(1), key: keyRef }),
    )
    .refine(
      (r) => Object.keys(r).length === 1,
      'exactly one output for now (several outputs come with issue #6)',
    ),
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
