import { z } from 'zod'

/** Hex of a fixed length, either case, normalized to lower case. Quote it: YAML reads digits as numbers. */
const hex = (bytes: number) =>
  z
    .string({ error: `must be a quoted string of ${bytes * 2} hex characters` })
    .regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes * 2} hex characters`)
    .transform((s) => s.toLowerCase())
/** One value or a non-empty list of them, normalized to a list (so both forms hash equally). */
const oneOrMany = <T extends z.ZodType>(item: T, what: string) =>
  z
    .union([item, z.array(item).min(1)], { error: `must be ${what} or a non-empty list of them` })
    .transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[])
const svn = z.number().int().min(0)

/** TCB statuses a policy may accept. `Revoked` is not among them: it can never be accepted. */
export const TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'TDRelaunchAdvised',
  'TDRelaunchAdvisedConfigurationNeeded',
] as const
const tcb = z
  .array(
    z.enum(TCB_STATUSES, {
      error: (i) =>
        i.input === 'Revoked'
          ? 'Revoked can never be accepted'
          : `must be one of ${TCB_STATUSES.join(', ')}`,
    }),
  )
  .min(1)
const advisories = z
  .array(
    z
      .string()
      .regex(
        /^(\*|[A-Z][A-Z0-9]*-[A-Z]+-\d+)$/,
        'must be an advisory id like INTEL-SA-00615, or *',
      ),
  )
  .min(1)

type Scalar = string | number | boolean
/** An Azure Key Vault release-policy style claim rule. */
export type ClaimRule =
  | { readonly allOf: readonly ClaimRule[] }
  | { readonly anyOf: readonly ClaimRule[] }
  | {
      readonly claim: string
      readonly equals?: Scalar | undefined
      readonly greaterOrEquals?: number | undefined
      readonly lessOrEquals?: number | undefined
      readonly in?: readonly Scalar[] | undefined
      readonly exists?: boolean | undefined
    }

const scalar = z.union([z.string(), z.number(), z.boolean()])
const claimPath = z
  .string()
  .regex(
    /^(token\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
    'must be a claim path like isvSvn, reportedTcb.snp or token.x-ms-sgx-svn',
  )
export const claimRuleSchema: z.ZodType<ClaimRule> = z.lazy(() =>
  z.union(
    [
      z.strictObject({ allOf: z.array(claimRuleSchema).min(1) }),
      z.strictObject({ anyOf: z.array(claimRuleSchema).min(1) }),
      z
        .strictObject({
          claim: claimPath,
          equals: scalar.optional(),
          greaterOrEquals: z.number().optional(),
          lessOrEquals: z.number().optional(),
          in: z.array(scalar).min(1).optional(),
          exists: z.boolean().optional(),
        })
        .refine(
          (r) =>
            [r.equals, r.greaterOrEquals, r.lessOrEquals, r.in, r.exists].filter(
              (x) => x !== undefined,
            ).length === 1,
          'a claim rule needs exactly one of equals, greaterOrEquals, lessOrEquals, in, exists',
        ),
    ],
    { error: 'must be { allOf: [rules] }, { anyOf: [rules] } or { claim, <one test> }' },
  ),
)

/**
 * Options every hardware clause shares: `issuer` accepts claims from a trusted attestation token
 * of that issuer (passport mode) instead of hardware evidence verified by the broker; `rules` adds
 * claim conditions in the style of Key Vault release policies.
 */
const common = {
  issuer: z.string().url().optional(),
  rules: claimRuleSchema.optional(),
}
/** Intel TCB appraisal: accepted statuses (default UpToDate only) and advisory allowlist. */
const intel = {
  tcb: tcb.optional(),
  allowAdvisories: advisories.optional(),
  /** For tokens that carry no TCB status (Azure Attestation SGX): rely on the issuer's TCB policy. */
  tcbFromIssuer: z.boolean().optional(),
}

export const simClause = z.strictObject({
  tee: z.literal('sim'),
  measurement: oneOrMany(hex(48), 'a quoted string of 96 hex characters'),
  minSvn: svn.optional(),
})

export const sgxClause = z
  .strictObject({
    tee: z.literal('sgx'),
    mrenclave: oneOrMany(hex(32), 'a quoted string of 64 hex characters').optional(),
    mrsigner: hex(32).optional(),
    isvProdId: svn.optional(),
    minIsvSvn: svn.optional(),
    ...intel,
    ...common,
  })
  .refine(
    (c) => c.mrenclave !== undefined || (c.mrsigner !== undefined && c.isvProdId !== undefined),
    {
      message: 'an sgx clause needs mrenclave, or mrsigner with isvProdId',
    },
  )

export const tdxClause = z.strictObject({
  tee: z.literal('tdx'),
  mrtd: oneOrMany(hex(48), 'a quoted string of 96 hex characters'),
  rtmr0: hex(48).optional(),
  rtmr1: hex(48).optional(),
  rtmr2: hex(48).optional(),
  rtmr3: hex(48).optional(),
  mrconfigid: hex(48).optional(),
  mrowner: hex(48).optional(),
  mrseam: oneOrMany(hex(48), 'a quoted string of 96 hex characters').optional(),
  ...intel,
  ...common,
})

export const snpClause = z.strictObject({
  tee: z.literal('snp'),
  measurement: oneOrMany(hex(48), 'a quoted string of 96 hex characters'),
  hostData: hex(32).optional(),
  minGuestSvn: svn.optional(),
  minTcb: z
    .strictObject({
      bootloader: svn.optional(),
      tee: svn.optional(),
      snp: svn.optional(),
      microcode: svn.optional(),
      fmc: svn.optional(),
    })
    .optional(),
  vmpl: z.number().int().min(0).max(3).optional(),
  product: z.enum(['Milan', 'Genoa', 'Turin']).optional(),
  signingKey: z.enum(['vcek', 'vlek']).optional(),
  allowMigrationAgent: z.boolean().default(false),
  allowSmt: z.boolean().default(true),
  /** Refused with a pointer to `minTcb`: SEV-SNP reports TCB versions, not an Intel-style status. */
  tcb: z
    .never({ error: 'SEV-SNP has no TCB status; require minimum TCB versions with minTcb' })
    .optional(),
  ...common,
})

export const acceptClause = z.discriminatedUnion('tee', [
  simClause,
  sgxClause,
  tdxClause,
  snpClause,
])
