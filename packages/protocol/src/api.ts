import { z } from 'zod'

/** The master key id of a dataset key in PME key material: `subrosa:<namespace>/<key>`. */
export function masterKeyId(namespace: string, key: string): string {
  return `subrosa:${namespace}/${key}`
}

/**
 * Split a master key id, `subrosa:<namespace>/<key>` or the short `<namespace>/<key>` (the same
 * key: parquet-java's and Arrow's `column.keys` syntax `id:col,col` cannot hold a colon in an
 * id); `undefined` when it is neither.
 */
export function parseMasterKeyId(id: string): { namespace: string; key: string } | undefined {
  const m =
    /^(?:subrosa:)?([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)$/.exec(
      id,
    )
  return m === null ? undefined : { namespace: m[1] as string, key: m[2] as string }
}

// KMS API (`/kms/v0/*`): the parquet-java/Arrow KmsClient contract over HTTPS.
export const wrapRequestSchema = z.strictObject({
  masterKeyId: z.string().max(200),
  key: z.string().max(128), // base64 of the key to wrap (a KEK or DEK: 16, 24 or 32 bytes)
})
export type WrapRequest = z.infer<typeof wrapRequestSchema>
export type WrapResponse = { wrapped: string }

export const unwrapRequestSchema = z.strictObject({
  masterKeyId: z.string().max(200),
  wrapped: z.string().max(512),
  /** For owner calls: the EC P-256 public key the unwrapped key is encrypted to. */
  recipient: z.record(z.string(), z.unknown()).optional(),
})
export type UnwrapRequest = z.infer<typeof unwrapRequestSchema>
/** `jwe` decrypts to JSON `{ key: <base64> }`. */
export type UnwrapResponse = { jwe: unknown }

// Admin API (`/admin/v0/*`), every call signed with an owner key.
export const applyPolicyRequestSchema = z.strictObject({
  yaml: z.string().max(1 << 20),
  /** Owners' approvals of this version (`signPolicyApproval`), compact JWS each. */
  approvals: z.array(z.string().max(4096)).max(64).optional(),
})
export type ApplyPolicyRequest = z.infer<typeof applyPolicyRequestSchema>
export type ApplyPolicyResponse = {
  namespace: string
  name: string
  version: number
  hash: string
  created: boolean
  /** Owner ids whose approval counted towards the threshold. */
  approvedBy: string[]
}

/** One stored version of a policy, without its body. */
export type PolicyVersionSummary = {
  version: number
  hash: string
  predecessor: string | null
  createdAt: string
  createdBy: string
  approvedBy: string[]
}
export type PolicyHistoryResponse = {
  namespace: string
  name: string
  versions: PolicyVersionSummary[]
}
/** One stored version with its document as applied. */
export type PolicyVersionResponse = PolicyVersionSummary & { yaml: string; policy: unknown }

export const revokeOwnerRequestSchema = z.strictObject({ owner: z.string().max(200) })
export type RevokeOwnerRequest = z.infer<typeof revokeOwnerRequestSchema>

export const createKeyRequestSchema = z.strictObject({
  namespace: z.string().max(63),
  name: z.string().max(63),
})
export type CreateKeyRequest = z.infer<typeof createKeyRequestSchema>
export type CreateKeyResponse = { id: string; namespace: string; name: string; created: boolean }

/** `PUT /admin/v0/secrets/:ns/:policy/:name`: the value of an `import: true` secret, base64. */
export const importSecretRequestSchema = z.strictObject({
  value: z.string().max(90000),
})
export type ImportSecretRequest = z.infer<typeof importSecretRequestSchema>
/** `GET /admin/v0/secrets/:ns/:policy`: the declared secrets, public facts only. */
export type ListSecretsResponse = {
  secrets: {
    name: string
    kind: 'bytes' | 'ec' | 'rsa' | 'x509' | 'import' | 'derive'
    stored: boolean
    public?: string
    cert?: string
    notAfter?: string
    updatedAt?: string
  }[]
}
export type ImportSecretResponse = {
  namespace: string
  policy: string
  name: string
  bytes: number
  replaced: boolean
}

/**
 * `POST /admin/v0/dry-run`: appraise captured evidence against a policy without a nonce and
 * without releasing anything. `policy` is a draft (YAML) or a stored one (`namespace`/`name`);
 * `at` (ISO 8601) is the verification time, default the broker's clock.
 */
const pem = z.string().max(64 << 10)
const rawJson = z.string().max(1 << 20)
const hexSignature = z.string().max(256)
const base64Der = z.string().max(8 << 20)
/**
 * Collateral sent with a dry run, in the shape of a `subrosa-collateral/v1` bundle's parts:
 * Intel's signed JSON as raw text, signatures as hex, chains as PEM, CRLs as base64 DER; AMD's
 * VCEK/VLEK as PEM and its CRL as base64 DER. Verified like any other collateral.
 */
export const collateralWireSchema = z.strictObject({
  intel: z
    .strictObject({
      fmspc: z.string().max(12).optional(),
      tcbInfo: rawJson,
      tcbInfoSignature: hexSignature,
      tcbInfoIssuerChain: pem,
      qeIdentity: rawJson,
      qeIdentitySignature: hexSignature,
      qeIdentityIssuerChain: pem,
      pckCrl: base64Der.optional(),
      pckCrlIssuerChain: pem.optional(),
      rootCaCrl: base64Der.optional(),
    })
    .optional(),
  amd: z
    .strictObject({
      product: z.string().max(16).optional(),
      vek: pem,
      chain: pem.optional(),
      crl: base64Der.optional(),
    })
    .optional(),
})
export type CollateralWire = z.infer<typeof collateralWireSchema>

export const dryRunRequestSchema = z.strictObject({
  tee: z.string().min(1).max(32),
  evidence: z.unknown(),
  workload: z.string().min(1).max(63),
  policy: z.union([
    z.strictObject({ yaml: z.string().max(1 << 20) }),
    z.strictObject({ namespace: z.string().max(63), name: z.string().max(63) }),
  ]),
  at: z.iso.datetime({ offset: true }).optional(),
  /** When given, this collateral is used instead of the broker's own sources. */
  collateral: collateralWireSchema.optional(),
})
export type DryRunRequest = z.infer<typeof dryRunRequestSchema>
/** The appraisal: verification outcome, claims, the decision with its reasons, the policy used. */
export type DryRunResponse = {
  verified: boolean
  tee: string
  tcbStatus?: string
  advisories: string[]
  claims?: Record<string, unknown>
  details?: Record<string, unknown>
  decision?: { allow: boolean; workload: string; clause: string; reasons: string[] }
  error?: { code: string; message: string; details?: Record<string, unknown> }
  policy: { namespace: string; name: string; hash: string; version?: number }
  at: string
}

/** One audit log entry. `hash` chains it to its predecessor. */
export type AuditEntry = {
  seq: number
  at: string
  kind: string
  namespace: string | null
  data: Record<string, unknown>
  prevHash: string
  hash: string
}
export type AuditListResponse = { entries: AuditEntry[]; verified: boolean; head: string }

/** RFC 7807 problem details, as every error response of the broker. */
export type Problem = {
  type: string
  title: string
  status: number
  detail: string
  code: string
  details?: Record<string, unknown>
}

/** The `type` URI of a problem with a Subrosa error code. */
export function problemType(code: string): string {
  return `urn:subrosa:error:${code}`
}
