import { posix } from 'node:path'
import { z } from 'zod'
import { acceptClause } from './accept.ts'
import { templateProblem, templateSecretNames } from './templates.ts'

const LABEL_SOURCE = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?'
const LABEL = new RegExp(`^${LABEL_SOURCE}$`)
const label = z
  .string()
  .regex(LABEL, 'must be a DNS label: lower-case letters, digits and -, at most 63 characters')
/** Where the launcher may write injected files: its private scratch dir, seen as /run/subrosa/. */
export const INJECT_ROOT = '/run/subrosa/'
const injectPath = z
  .string()
  .max(4096)
  .refine(
    (p) =>
      p.startsWith(INJECT_ROOT) &&
      p.length > INJECT_ROOT.length &&
      posix.normalize(p) === p &&
      !p.endsWith('/') &&
      // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters
      !/[\u0000-\u001f\u007f]/.test(p),
    `must be a normalized absolute file path under ${INJECT_ROOT} (no .., //, trailing / or control characters)`,
  )
const keyGrant = z
  .string()
  .regex(
    /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?\/[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?:(wrap|unwrap)$/,
    'must be <namespace>/<key>:wrap or :unwrap',
  )

const workload = z.strictObject({
  name: label,
  accept: z.array(acceptClause).min(1),
  debug: z.enum(['deny', 'allow']).default('deny'),
  inject: z
    .strictObject({
      env: z
        .record(
          z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'env names are [A-Z_][A-Z0-9_]*'),
          z
            .string()
            .max(65536)
            .refine((t) => !t.includes('\u0000'), 'env values cannot contain NUL'),
        )
        .default({}),
      files: z.record(injectPath, z.string().max(65536)).default({}),
    })
    .default({ env: {}, files: {} }),
  keys: z.array(keyGrant).default([]),
})

const secret = z.strictObject({
  name: label,
  generate: z.strictObject({ bytes: z.number().int().min(16).max(1024) }),
})

export const policySchema = z
  .strictObject({
    apiVersion: z.literal('subrosa/v1'),
    kind: z.literal('Policy'),
    metadata: z.strictObject({
      namespace: label,
      name: label,
      predecessor: z
        .string()
        .regex(
          /^sha384:[0-9a-fA-F]{96}$/,
          'must be sha384:<96 hex> (the hash of the current version) or null',
        )
        .transform((s) => s.toLowerCase())
        .nullable()
        .default(null),
    }),
    owners: z.strictObject({
      threshold: z.number().int().min(1),
      keys: z
        .array(
          z
            .string()
            .regex(
              /^urn:ietf:params:oauth:jwk-thumbprint:sha-256:[A-Za-z0-9_-]{43}$/,
              'must be an RFC 9278 JWK thumbprint URI (sha-256)',
            ),
        )
        .min(1),
    }),
    workloads: z.array(workload).min(1),
    secrets: z.array(secret).default([]),
    grants: z
      .array(
        z.strictObject({
          secret: label,
          to: z
            .string()
            .regex(new RegExp(`^${LABEL_SOURCE}/${LABEL_SOURCE}$`), 'must be <namespace>/<policy>'),
        }),
      )
      .default([]),
  })
  .superRefine((p, ctx) => {
    const issue = (path: PropertyKey[], message: string): void => {
      ctx.addIssue({ code: 'custom', path, message })
    }
    if (p.owners.threshold > p.owners.keys.length) {
      issue(['owners', 'threshold'], 'is larger than the number of owner keys')
    }
    for (const i of duplicates(p.owners.keys)) issue(['owners', 'keys', i], 'is listed twice')
    for (const i of duplicates(p.workloads.map((w) => w.name))) {
      issue(['workloads', i, 'name'], 'is used by another workload')
    }
    for (const i of duplicates(p.secrets.map((s) => s.name))) {
      issue(['secrets', i, 'name'], 'is used by another secret')
    }
    const declared = new Set(p.secrets.map((s) => s.name))
    p.workloads.forEach((w, wi) => {
      for (const [target, map] of [
        ['env', w.inject.env],
        ['files', w.inject.files],
      ] as const) {
        for (const [key, template] of Object.entries(map)) {
          const path = ['workloads', wi, 'inject', target, key]
          const problem = templateProblem(template, target === 'env' ? 'env' : 'file')
          if (problem !== undefined) issue(path, problem)
          else
            for (const name of templateSecretNames(template))
              if (!declared.has(name))
                issue(path, `names secret ${name}, which the policy does not declare`)
        }
      }
    })
    p.workloads.forEach((w, wi) => {
      const paths = Object.keys(w.inject.files)
      for (const path of paths)
        if (paths.some((other) => other.startsWith(`${path}/`)))
          issue(
            ['workloads', wi, 'inject', 'files', path],
            'is both a file and the directory of another injected file',
          )
    })
    p.grants.forEach((g, i) => {
      if (!declared.has(g.secret))
        issue(
          ['grants', i, 'secret'],
          `names secret ${g.secret}, which the policy does not declare`,
        )
    })
  })

function duplicates(values: readonly string[]): number[] {
  return values.flatMap((v, i) => (values.indexOf(v) !== i ? [i] : []))
}

/** A validated, normalized policy. */
export type Policy = z.output<typeof policySchema>
export type Workload = Policy['workloads'][number]
export type AcceptClause = Workload['accept'][number]
export type SecretSpec = Policy['secrets'][number]
export type Grant = Policy['grants'][number]
