import { z } from 'zod'
import { parseYaml, validate } from './document.ts'

const ident = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an SQL identifier [A-Za-z_][A-Za-z0-9_]*')
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
      }),
    )
    .refine((r) => Object.keys(r).length > 0, 'needs at least one input'),
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
 * Parse and validate a job document (YAML).
 *
 * @throws PolicyError `ERR_JOB_YAML` or `ERR_JOB_INVALID` (with the path of every violation).
 */
export function parseJob(yamlText: string): Job {
  return validateJob(parseYaml(yamlText, 'ERR_JOB_YAML', 'job'))
}

/** Validate an already-parsed job document. @throws PolicyError `ERR_JOB_INVALID`. */
export function validateJob(doc: unknown): Job {
  return validate(jobSchema, doc, 'ERR_JOB_INVALID', 'job')
}
