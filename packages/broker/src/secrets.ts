import { hkdfSync } from 'node:crypto'
import { canonicalJson, fromUtf8, utf8 } from '@subrosa/core'
import {
  type Policy,
  type SecretKind,
  type SecretPart,
  type SecretSpec,
  secretKind,
} from '@subrosa/policy'
import { appendAudit } from './audit.ts'
import { type GeneratedKeyType, generateKeyPairPem, issueWorkloadCertificate } from './ca.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { openForNamespace, sealForNamespace } from './namespace-keys.ts'

/** Largest imported secret value. */
export const MAX_IMPORTED_SECRET_BYTES = 65536

function context(namespace: string, policy: string, name: string): string {
  return `secret:${namespace}/${policy}/${name}`
}

// The one place where secret values are sealed and opened: under the namespace's key.
function sealValue(
  ctx: BrokerContext,
  namespace: string,
  policy: string,
  name: string,
  plaintext: Uint8Array,
): Promise<Uint8Array> {
  return sealForNamespace(ctx, namespace, plaintext, context(namespace, policy, name))
}

function openValue(
  ctx: BrokerContext,
  namespace: string,
  policy: string,
  name: string,
  sealed: Uint8Array,
): Promise<Uint8Array> {
  return openForNamespace(ctx, namespace, sealed, context(namespace, policy, name))
}

/**
 * A stored secret, opened. `value` is the raw bytes of `bytes` and `import` secrets, and the
 * UTF-8 JSON of the PEM parts (`{private, public[, cert, ca]}`) of `ec`, `rsa` and `x509` ones:
 * that JSON is also what `GET /kbs/v0/resource` releases for them.
 */
export type OpenedSecret = { readonly kind: SecretKind; readonly value: Uint8Array }

type Generated = {
  readonly value: Uint8Array
  readonly meta: Record<string, string | number>
}

async function generate(
  ctx: BrokerContext,
  policy: Policy,
  spec: SecretSpec,
): Promise<Generated | undefined> {
  const g = spec.generate
  if (g === undefined) return undefined
  if (!('type' in g)) return { value: ctx.random(g.bytes), meta: { bytes: g.bytes } }
  if (g.type === 'ec' || g.type === 'rsa') {
    const pair = await generateKeyPairPem(g)
    return {
      value: utf8(JSON.stringify({ private: pair.privatePem, public: pair.publicPem })),
      meta: { public: pair.publicPem },
    }
  }
  const [type, size] = g.keyType.split('-') as [string, string]
  const key: GeneratedKeyType =
    type === 'rsa'
      ? { type: 'rsa', bits: Number(size) as 2048 | 3072 | 4096 }
      : { type: 'ec', curve: size === 'p384' ? 'P-384' : 'P-256' }
  const cert = await issueWorkloadCertificate(
    ctx.keys.ca,
    {
      key,
      uri: g.uri,
      dns: g.dns,
      days: g.days,
      commonName: `${policy.metadata.namespace}/${policy.metadata.name}/${spec.name}`,
    },
    ctx.clock(),
    ctx.random(16),
  )
  return {
    value: utf8(
      JSON.stringify({
        private: cert.privatePem,
        public: cert.publicPem,
        cert: cert.certPem,
        ca: cert.caPem,
      }),
    ),
    meta: { public: cert.publicPem, cert: cert.certPem, notAfter: cert.notAfter.toISOString() },
  }
}

/**
 * Create the policy's generated secrets that do not exist yet, and generate anew those whose
 * generation spec changed (a new key type, SPIFFE ID, size...). Imported and derived secrets
 * are not generated. Returns the names generated.
 */
export async function ensureGeneratedSecrets(
  ctx: BrokerContext,
  policy: Policy,
): Promise<string[]> {
  const { namespace, name: policyName } = policy.metadata
  const existing = new Map(
    (
      await ctx.db.query<{ name: string; kind: string; spec: string | null }>(
        "SELECT name, kind, meta->>'spec' AS spec FROM secrets WHERE namespace = $1 AND policy = $2",
        [namespace, policyName],
      )
    ).rows.map((r) => [r.name, r]),
  )
  const created: string[] = []
  for (const spec of policy.secrets) {
    if (spec.generate === undefined) continue
    const kind = secretKind(spec)
    const specJson = canonicalJson(spec.generate)
    const old = existing.get(spec.name)
    // Rows from before secret kinds have no spec: they were random bytes and stay as they are.
    if (old !== undefined && old.kind === kind && (old.spec === null || old.spec === specJson))
      continue
    const generated = await generate(ctx, policy, spec)
    if (generated === undefined) continue
    const sealed = await sealValue(ctx, namespace, policyName, spec.name, generated.value)
    generated.value.fill(0)
    const meta = JSON.stringify({ ...generated.meta, spec: specJson })
    const now = ctx.clock()
    const rows = (
      await ctx.db.query<{ name: string }>(
        `INSERT INTO secrets (namespace, policy, name, sealed, created_at, kind, meta, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $5)
         ON CONFLICT (namespace, policy, name) DO UPDATE
           SET sealed = EXCLUDED.sealed, kind = EXCLUDED.kind, meta = EXCLUDED.meta,
               updated_at = EXCLUDED.updated_at
           WHERE secrets.kind <> EXCLUDED.kind
              OR (secrets.meta->>'spec' IS NOT NULL AND secrets.meta->>'spec' <> EXCLUDED.meta->>'spec')
         RETURNING name`,
        [namespace, policyName, spec.name, sealed, now, kind, meta],
      )
    ).rows
    if (rows.length > 0) {
      created.push(spec.name)
      await appendAudit(ctx.db, ctx.clock, {
        kind: 'secret.generate',
        namespace,
        data: {
          policy: policyName,
          secret: spec.name,
          type: kind,
          replaced: old !== undefined,
          ...('bytes' in spec.generate ? { bytes: spec.generate.bytes } : {}),
          ...('uri' in spec.generate ? { uri: spec.generate.uri } : {}),
        },
      })
    }
  }
  return created
}

/**
 * Store an owner-supplied value of a secret the current policy declares with `import: true`,
 * replacing an earlier one. Only the length is audited.
 *
 * @throws BrokerError `ERR_BROKER_NOT_FOUND` (no such policy or secret), `ERR_BROKER_SECRET_KIND`
 * (the secret is not imported), `ERR_BROKER_SECRET_VALUE` (empty or too large).
 */
export async function importSecret(
  ctx: BrokerContext,
  ownerId: string,
  policy: Policy,
  name: string,
  value: Uint8Array,
): Promise<{ replaced: boolean }> {
  const { namespace, name: policyName } = policy.metadata
  const spec = declaredSecret(policy, name)
  if (spec.import !== true)
    throw new BrokerError(
      'ERR_BROKER_SECRET_KIND',
      `Secret ${namespace}/${policyName}/${name} is not declared with import: true`,
    )
  if (value.length === 0 || value.length > MAX_IMPORTED_SECRET_BYTES)
    throw new BrokerError(
      'ERR_BROKER_SECRET_VALUE',
      `An imported secret must be 1 to ${MAX_IMPORTED_SECRET_BYTES} bytes`,
    )
  const replaced =
    (
      await ctx.db.query<{ name: string }>(
        'SELECT name FROM secrets WHERE namespace = $1 AND policy = $2 AND name = $3',
        [namespace, policyName, name],
      )
    ).rows.length > 0
  const sealed = await sealValue(ctx, namespace, policyName, name, value)
  await ctx.db.query(
    `INSERT INTO secrets (namespace, policy, name, sealed, created_at, kind, meta, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'import', $6, $5)
     ON CONFLICT (namespace, policy, name) DO UPDATE
       SET sealed = EXCLUDED.sealed, kind = EXCLUDED.kind, meta = EXCLUDED.meta,
           updated_at = EXCLUDED.updated_at`,
    [
      namespace,
      policyName,
      name,
      sealed,
      ctx.clock(),
      JSON.stringify({ spec: canonicalJson({ import: true }) }),
    ],
  )
  await appendAudit(ctx.db, ctx.clock, {
    kind: 'secret.import',
    namespace,
    data: { policy: policyName, secret: name, bytes: value.length, replaced, by: ownerId },
  })
  return { replaced }
}

/** A secret's row as stored: the sealed value, its kind and metadata. */
export type StoredRow = {
  readonly sealed: Uint8Array
  readonly kind: string
  readonly meta: { readonly notAfter?: string } | null
}

/** The `secrets` columns {@link storedRow} reads, for queries that read a row along. */
export const STORED_ROW_COLUMNS = 'sealed, kind, meta'

async function storedRow(
  ctx: BrokerContext,
  namespace: string,
  policy: string,
  name: string,
): Promise<StoredRow> {
  const row = (
    await ctx.db.query<StoredRow>(
      `SELECT ${STORED_ROW_COLUMNS} FROM secrets WHERE namespace = $1 AND policy = $2 AND name = $3`,
      [namespace, policy, name],
    )
  ).rows[0]
  return foundRow(row, namespace, policy, name)
}

function foundRow(
  row: StoredRow | undefined,
  namespace: string,
  policy: string,
  name: string,
): StoredRow {
  if (row === undefined)
    throw new BrokerError(
      'ERR_BROKER_NOT_FOUND',
      `Secret ${namespace}/${policy}/${name} does not exist (an imported secret must be imported first)`,
    )
  return row
}

/**
 * The plaintext of a stored secret. The caller releases it only after a policy decision and
 * records the release in the audit log.
 *
 * @throws BrokerError `ERR_BROKER_NOT_FOUND`.
 */
export async function loadSecret(
  ctx: BrokerContext,
  namespace: string,
  policy: string,
  name: string,
): Promise<OpenedSecret> {
  const row = await storedRow(ctx, namespace, policy, name)
  return {
    kind: row.kind as SecretKind,
    value: await openValue(ctx, namespace, policy, name, row.sealed),
  }
}

/**
 * Issue a certificate secret anew when less than a third of its validity is left, so that
 * workloads fetching it always get a usable one. Another replica may renew at the same time:
 * the update only applies over the value it replaces, and the loser reads the winner's. Returns
 * whether the stored value may have changed.
 */
async function renewCertificate(
  ctx: BrokerContext,
  policy: Policy,
  spec: SecretSpec,
  row: StoredRow,
): Promise<boolean> {
  const g = spec.generate
  const notAfter = row.meta?.notAfter
  if (g === undefined || !('type' in g) || g.type !== 'x509' || row.kind !== 'x509') return false
  if (notAfter === undefined) return false
  const left = Date.parse(notAfter) - ctx.clock().getTime()
  if (left > (g.days * 86_400_000) / 3) return false
  const { namespace, name: policyName } = policy.metadata
  const generated = await generate(ctx, policy, spec)
  if (generated === undefined) return false
  const sealed = await sealValue(ctx, namespace, policyName, spec.name, generated.value)
  generated.value.fill(0)
  const updated = (
    await ctx.db.query<{ name: string }>(
      `UPDATE secrets SET sealed = $4, meta = $5, updated_at = $6
       WHERE namespace = $1 AND policy = $2 AND name = $3 AND sealed = $7 RETURNING name`,
      [
        namespace,
        policyName,
        spec.name,
        sealed,
        JSON.stringify({ ...generated.meta, spec: canonicalJson(g) }),
        ctx.clock(),
        row.sealed,
      ],
    )
  ).rows
  if (updated.length > 0)
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'secret.generate',
      namespace,
      data: {
        policy: policyName,
        secret: spec.name,
        type: 'x509',
        replaced: true,
        renewed: true,
        uri: g.uri,
        notAfter: String(generated.meta.notAfter),
      },
    })
  return true
}

/**
 * The value of a secret as a workload sees it: stored ones opened (certificates renewed when a
 * third of their validity is left), derived ones computed for
 * `workloadRef` (`<ns>/<policy>/<workload>`) as HKDF-SHA256(from, salt "subrosa/derive/v1",
 * info = `<info> NUL <ns>/<policy>/<secret> NUL <workloadRef>`), so every workload gets its own.
 *
 * `read` is the secret's row when the caller already read it (absent: read here).
 *
 * @throws BrokerError `ERR_BROKER_NOT_FOUND`.
 */
export async function resolveSecret(
  ctx: BrokerContext,
  policy: Policy,
  name: string,
  workloadRef: string,
  read?: { readonly row: StoredRow | undefined },
): Promise<OpenedSecret> {
  const { namespace, name: policyName } = policy.metadata
  const spec = declaredSecret(policy, name)
  if (spec.derive === undefined) {
    let row =
      read === undefined
        ? await storedRow(ctx, namespace, policyName, name)
        : foundRow(read.row, namespace, policyName, name)
    if (await renewCertificate(ctx, policy, spec, row))
      row = await storedRow(ctx, namespace, policyName, name)
    return {
      kind: row.kind as SecretKind,
      value: await openValue(ctx, namespace, policyName, name, row.sealed),
    }
  }
  const from = await loadSecret(ctx, namespace, policyName, spec.derive.from)
  try {
    const info = utf8(
      `${spec.derive.info}\u0000${namespace}/${policyName}/${name}\u0000${workloadRef}`,
    )
    const value = new Uint8Array(
      hkdfSync('sha256', from.value, utf8('subrosa/derive/v1'), info, spec.derive.bytes),
    )
    return { kind: 'derive', value }
  } finally {
    from.value.fill(0)
  }
}

/**
 * One template view of an opened secret: the bytes themselves without a part, the PEM text of
 * a part of a key pair or certificate.
 *
 * @throws BrokerError `ERR_BROKER_SECRET_KIND` when the stored kind has no such part (the policy
 * changed the secret's kind and it was not generated anew).
 */
export function secretView(
  name: string,
  secret: OpenedSecret,
  part: SecretPart | undefined,
): Uint8Array {
  const structured = secret.kind === 'ec' || secret.kind === 'rsa' || secret.kind === 'x509'
  if (part === undefined && !structured) return secret.value
  if (part !== undefined && structured) {
    const parts = JSON.parse(fromUtf8(secret.value)) as Partial<Record<SecretPart, string>>
    const pem = parts[part]
    if (pem !== undefined) return utf8(pem)
  }
  throw new BrokerError(
    'ERR_BROKER_SECRET_KIND',
    `Secret ${name} is a stored ${secret.kind} secret, which has no ${part === undefined ? 'plain value' : `part ${part}`}`,
  )
}

/** What an owner may see of a declared secret: its kind, whether it has a value, public parts. */
export type SecretDescription = {
  readonly name: string
  readonly kind: SecretKind
  /** A stored value exists (derived secrets are computed on release and never stored). */
  readonly stored: boolean
  readonly public?: string
  readonly cert?: string
  readonly notAfter?: string
  readonly updatedAt?: string
}

/** The declared secrets of a policy with their public facts; never a secret value. */
export async function describeSecrets(
  ctx: BrokerContext,
  policy: Policy,
): Promise<SecretDescription[]> {
  const { namespace, name: policyName } = policy.metadata
  const rows = new Map(
    (
      await ctx.db.query<{
        name: string
        meta: { public?: string; cert?: string; notAfter?: string } | null
        updated_at: Date | null
        created_at: Date
      }>(
        'SELECT name, meta, updated_at, created_at FROM secrets WHERE namespace = $1 AND policy = $2',
        [namespace, policyName],
      )
    ).rows.map((r) => [r.name, r]),
  )
  return policy.secrets.map((spec) => {
    const row = rows.get(spec.name)
    const meta = row?.meta ?? {}
    return {
      name: spec.name,
      kind: secretKind(spec),
      stored: row !== undefined,
      ...(meta.public === undefined ? {} : { public: meta.public }),
      ...(meta.cert === undefined ? {} : { cert: meta.cert }),
      ...(meta.notAfter === undefined ? {} : { notAfter: meta.notAfter }),
      ...(row === undefined
        ? {}
        : { updatedAt: new Date(row.updated_at ?? row.created_at).toISOString() }),
    }
  })
}

/** The declaration of secret `name` in `policy`; a typed error when the policy has none. */
function declaredSecret(policy: Policy, name: string): SecretSpec {
  const spec = policy.secrets.find((s) => s.name === name)
  if (spec === undefined) {
    const { namespace, name: policyName } = policy.metadata
    throw new BrokerError(
      'ERR_BROKER_NOT_FOUND',
      `Policy ${namespace}/${policyName} declares no secret ${name}`,
    )
  }
  return spec
}
