import { type Claims, primaryMeasurement, verifyEvidence } from '@subrosa/attest'
import {
  type BaseError,
  fromBase64,
  fromUtf8,
  isSubrosaError,
  toBase64,
  toHex,
  utf8,
} from '@subrosa/core'
import { openSecret, sealSecret } from '@subrosa/crypto'
import { evaluatePolicy, PolicyError, type Workload } from '@subrosa/policy'
import {
  type AttestRequest,
  type AuthRequest,
  attestRequestSchema,
  authRequestSchema,
  type EarClaims,
  KBS_PROTOCOL_VERSION,
  ProtocolError,
  parseWire,
  reportDataFor,
  signEarToken,
  type TeePublicKey,
  teePublicKeyOf,
  verifyEarTokenSync,
} from '@subrosa/protocol'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { policyVersionOf, type StoredPolicy } from './policies.ts'
import { STORED_ROW_COLUMNS, type StoredRow } from './secrets.ts'
import { publicJwks, randomId } from './state.ts'
import { type Db, relaxedDb } from './store/store.ts'
import { verificationOptions } from './verification.ts'

/** A job id: a Spark application id (`spark-<hex>`) or any DNS-label-like name. */
export const JOB_ID = /^[a-z0-9](?:[-a-z0-9.]{0,61}[a-z0-9])?$/

const WORKLOAD_REF =
  /^([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)\/([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)$/

/** When each table's expired rows were last purged from each store (clock milliseconds). */
const lastPurge = new WeakMap<Db, Map<string, number>>()
const PURGE_EVERY_MS = 1000

/**
 * Whether `table`'s expired rows are due for a purge on `db` at `now` (at most once a second;
 * a clock that went back also purges), recording the purge when so.
 */
function purgeDue(db: Db, table: string, now: Date): boolean {
  let tables = lastPurge.get(db)
  if (tables === undefined) {
    tables = new Map()
    lastPurge.set(db, tables)
  }
  const last = tables.get(table)
  if (last !== undefined && Math.abs(now.getTime() - last) < PURGE_EVERY_MS) return false
  tables.set(table, now.getTime())
  return true
}

/**
 * `POST /kbs/v0/auth`: open a session with a single-use nonce. Subrosa reads the workload the
 * TEE claims to be from `extra-params.workload` (`<ns>/<policy>/<workload>`).
 */
export async function startSession(
  ctx: BrokerContext,
  body: unknown,
): Promise<{ sessionId: string; nonce: string }> {
  const request: AuthRequest = parseWire(authRequestSchema, body, 'KBS auth request')
  if (
    !/^0\.[1-9]\d*\.\d+$/.test(request.version) ||
    request.version.localeCompare(KBS_PROTOCOL_VERSION, 'en', { numeric: true }) < 0
  ) {
    throw new BrokerError(
      'ERR_KBS_VERSION',
      `KBS protocol version ${request.version} is not supported (need >= ${KBS_PROTOCOL_VERSION}, < 1)`,
    )
  }
  const extra = request['extra-params']
  const workload =
    typeof extra === 'object' && extra !== null
      ? (extra as Record<string, unknown>).workload
      : undefined
  if (typeof workload !== 'string' || !WORKLOAD_REF.test(workload)) {
    throw new ProtocolError(
      'ERR_PROTOCOL_MALFORMED',
      'extra-params.workload must name <namespace>/<policy>/<workload>',
    )
  }
  const job =
    typeof extra === 'object' && extra !== null ? (extra as Record<string, unknown>).job : undefined
  if (job !== undefined && (typeof job !== 'string' || !JOB_ID.test(job))) {
    throw new ProtocolError(
      'ERR_PROTOCOL_MALFORMED',
      'extra-params.job must be a job id of lower-case letters, digits, dots and dashes (at most 63)',
    )
  }
  const sessionId = randomId(ctx.random, 32)
  const nonce = randomId(ctx.random, 32)
  const now = ctx.clock()
  // Sessions outlive their nonce only to back cookie-authenticated resource calls for as long as
  // a token would; older ones are dropped so that unauthenticated auth calls cannot grow the table.
  // At most once a second per store, in the statement that opens the session: purging on every
  // call cost a scan per flow whenever PostgreSQL planned the DELETE for a small table.
  const values = [
    sessionId,
    nonce,
    request.tee,
    workload,
    now,
    new Date(now.getTime() + ctx.nonceTtlSeconds * 1000),
    job ?? null,
  ]
  if (purgeDue(ctx.db, 'kbs_sessions', now)) {
    await relaxedDb(ctx.db).query(
      'WITH purged AS (DELETE FROM kbs_sessions WHERE expires_at < $8) INSERT INTO kbs_sessions (id, nonce, tee, workload, created_at, expires_at, job) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      [...values, new Date(now.getTime() - ctx.tokenTtlSeconds * 1000)],
    )
  } else {
    await relaxedDb(ctx.db).query(
      'INSERT INTO kbs_sessions (id, nonce, tee, workload, created_at, expires_at, job) VALUES ($1, $2, $3, $4, $5, $6, $7)',
      values,
    )
  }
  return { sessionId, nonce }
}

/**
 * `POST /kbs/v0/attest`: consume the session's nonce, verify the evidence and its binding to
 * `{nonce, tee-pubkey[, tls-cert-sha256]}`, evaluate the policy and issue an EAR token (carrying
 * `subrosa.tls-cert-sha256` when the runtime data binds a TLS certificate). Every outcome after the
 * nonce is consumed is one audit entry.
 *
 * @throws BrokerError `ERR_KBS_*`; AttestError; PolicyError `ERR_POLICY_DENIED`.
 */
export async function attest(
  ctx: BrokerContext,
  sessionId: string | undefined,
  body: unknown,
): Promise<{ token: string }> {
  const request: AttestRequest = parseWire(attestRequestSchema, body, 'KBS attest request')
  const session = await consumeSession(ctx, sessionId)
  const [, namespace = '', policyName = '', workloadName = ''] =
    WORKLOAD_REF.exec(session.workload) ?? []
  const audit = {
    workload: session.workload,
    tee: session.tee,
    ...(session.job === null ? {} : { job: session.job }),
  }
  let claims: Claims | undefined
  try {
    if (session.jobRevoked)
      throw new BrokerError(
        'ERR_JOB_REVOKED',
        `Job ${session.job} of ${session.workload} was revoked; start a new job`,
      )
    if (request['runtime-data'].nonce !== session.nonce) {
      throw new BrokerError(
        'ERR_KBS_NONCE_MISMATCH',
        'The runtime data nonce is not the nonce this session issued',
      )
    }
    claims = (
      await verifyEvidence(
        session.tee,
        request['tee-evidence'].primary_evidence,
        verificationOptions(ctx),
      )
    ).claims
    if (claims.reportData !== toHex(reportDataFor(request['runtime-data']))) {
      throw new BrokerError(
        'ERR_KBS_BINDING',
        'The evidence report data does not bind this runtime data (nonce, TEE key, TLS certificate)',
      )
    }
    if (session.policy === undefined)
      throw new BrokerError(
        'ERR_BROKER_NOT_FOUND',
        `Policy ${namespace}/${policyName} does not exist`,
      )
    const stored = await policyVersionOf(ctx, namespace, policyName, session.policy)
    const decision = evaluatePolicy(stored.policy, workloadName, claims, { allowSim: ctx.allowSim })
    if (!decision.allow) {
      throw new PolicyError(
        'ERR_POLICY_DENIED',
        `Attestation denied by ${namespace}/${policyName} at ${decision.clause}`,
        {
          details: { clause: decision.clause, reasons: decision.reasons },
        },
      )
    }
    const jti = randomId(ctx.random, 16)
    const token = await signEarToken(
      {
        issuer: ctx.issuer,
        now: ctx.clock(),
        ttlSeconds: ctx.tokenTtlSeconds,
        jti,
        nonce: session.nonce,
        build: ctx.build,
        status: claims.insecure ? 'warning' : 'affirming',
        trustVector: {
          'instance-identity': 0,
          configuration: 0,
          executables: 2,
          hardware: claims.insecure ? 0 : 2,
        },
        annotatedEvidence: { ...claims },
        teePublicKey: request['runtime-data']['tee-pubkey'],
        workload: {
          namespace,
          policy: policyName,
          workload: workloadName,
          policyHash: stored.hash,
          policyVersion: stored.version,
          clause: decision.clause,
        },
        tee: claims.tee,
        insecure: claims.insecure,
        // Bound by the report data checked above: the TLS certificate the workload serves with.
        tlsCertSha256: request['runtime-data']['tls-cert-sha256'],
      },
      ctx.keys.signingKey,
    )
    if (session.job !== null) {
      const issued = ctx.clock()
      const values = [
        jti,
        session.workload,
        session.job,
        issued,
        new Date(issued.getTime() + ctx.tokenTtlSeconds * 1000),
      ]
      // Expired token records go at most once a second, as expired sessions do.
      await ctx.db.query(
        purgeDue(ctx.db, 'workload_tokens', issued)
          ? 'WITH purged AS (DELETE FROM workload_tokens WHERE expires_at < $4) INSERT INTO workload_tokens (jti, workload, job, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)'
          : 'INSERT INTO workload_tokens (jti, workload, job, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)',
        values,
      )
    }
    // Stored sealed: no token reaches the database in the clear. Durable with the audit entry
    // below, before the token is returned.
    await relaxedDb(ctx.db).query('UPDATE kbs_sessions SET token = $2 WHERE id = $1', [
      sessionId,
      toBase64(
        sealSecret(ctx.keys.rootKey, utf8(token), `kbs-session-token:${sessionId}`, ctx.random),
      ),
    ])
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'attestation',
      namespace,
      data: {
        ...audit,
        decision: 'allow',
        clause: decision.clause,
        measurement: primaryMeasurement(claims),
        insecure: claims.insecure,
        policyVersion: stored.version,
        policyHash: stored.hash,
        tokenId: jti,
      },
    })
    ctx.log({
      event: 'attestation',
      decision: 'allow',
      tee: claims.tee,
      workload: session.workload,
    })
    return { token }
  } catch (error) {
    const denied = error instanceof PolicyError && error.code === 'ERR_POLICY_DENIED'
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'attestation',
      namespace,
      data: {
        ...audit,
        decision: 'deny',
        code: isSubrosaError(error) ? (error as BaseError).code : 'ERR_BROKER_INTERNAL',
        ...(denied ? { clause: String(error.details?.clause) } : {}),
        ...(claims !== undefined
          ? { measurement: primaryMeasurement(claims), insecure: claims.insecure }
          : {}),
      },
    })
    const code = isSubrosaError(error) ? (error as BaseError).code : 'ERR_BROKER_INTERNAL'
    ctx.log({
      event: 'attestation',
      decision: 'deny',
      tee: session.tee,
      workload: session.workload,
      code,
    })
    throw error
  }
}

type Session = {
  readonly nonce: string
  readonly tee: string
  readonly workload: string
  readonly job: string | null
  /** Whether the session's job was revoked. */
  readonly jobRevoked: boolean
  /** The current version of the workload's policy, read with the session; absent when none. */
  readonly policy: { readonly version: number; readonly hash: string } | undefined
}

type SessionRow = {
  nonce: string
  tee: string
  workload: string
  job: string | null
  expires_at: Date
  job_revoked: boolean
  policy_version: number | null
  policy_hash: string | null
}

/**
 * Mark the session used and read, in the same round trip, whether its job was revoked and the
 * current version of its policy.
 */
async function consumeSession(ctx: BrokerContext, sessionId: string | undefined): Promise<Session> {
  if (sessionId === undefined)
    throw new BrokerError('ERR_KBS_SESSION', 'No KBS session cookie: call auth first')
  const now = ctx.clock()
  // Durable at the latest with the attestation's audit entry (allow or deny), which every outcome
  // after this point appends before answering.
  const row = (
    await relaxedDb(ctx.db).query<SessionRow>(
      `WITH s AS (
        UPDATE kbs_sessions SET used_at = $2 WHERE id = $1 AND used_at IS NULL
        RETURNING nonce, tee, workload, job, expires_at
      )
      SELECT s.nonce, s.tee, s.workload, s.job, s.expires_at,
        EXISTS (SELECT 1 FROM job_revocations r WHERE r.workload = s.workload AND r.job = s.job) AS job_revoked,
        p.version AS policy_version, p.hash AS policy_hash
      FROM s LEFT JOIN LATERAL (
        SELECT version, hash FROM policies
        WHERE namespace = split_part(s.workload, '/', 1) AND name = split_part(s.workload, '/', 2)
        ORDER BY version DESC LIMIT 1
      ) p ON true`,
      [sessionId, now],
    )
  ).rows[0]
  if (row === undefined) {
    const exists =
      (await ctx.db.query('SELECT 1 FROM kbs_sessions WHERE id = $1', [sessionId])).rows.length > 0
    if (exists)
      throw new BrokerError(
        'ERR_KBS_NONCE_USED',
        'This session nonce was already used: call auth again',
      )
    throw new BrokerError('ERR_KBS_SESSION', 'Unknown KBS session: call auth first')
  }
  if (new Date(row.expires_at).getTime() <= now.getTime()) {
    throw new BrokerError('ERR_KBS_NONCE_EXPIRED', 'This session nonce expired: call auth again')
  }
  return {
    nonce: row.nonce,
    tee: row.tee,
    workload: row.workload,
    job: row.job,
    jobRevoked: row.job_revoked,
    policy:
      row.policy_version === null || row.policy_hash === null
        ? undefined
        : { version: Number(row.policy_version), hash: row.policy_hash },
  }
}

/** A workload that presented a valid, current token. */
export type WorkloadIdentity = {
  readonly claims: EarClaims
  readonly teeKey: TeePublicKey
  readonly stored: StoredPolicy
  readonly workload: Workload
  /** `<ns>/<policy>/<workload>` */
  readonly ref: string
  /** The job the token was issued for (KBS auth `extra-params.job`), if any. */
  readonly job?: string
  /** The row of the secret the caller asked to read along (`<ns>/<policy>/<name>`), if any. */
  readonly secret?: { readonly ref: string; readonly row: StoredRow | undefined }
}

/** A secret by its place: `namespace/policy/name`. */
export type SecretRef = {
  readonly namespace: string
  readonly policy: string
  readonly name: string
}

/**
 * Authenticate a workload by bearer token or attested KBS session. The token must verify under
 * this broker's key and name the current version of its policy.
 *
 * @throws BrokerError `ERR_BROKER_UNAUTHENTICATED`, `ERR_TOKEN_STALE`, `ERR_TOKEN_REVOKED` (its job
 * ended or was revoked); ProtocolError `ERR_TOKEN_*`.
 */
export async function authenticateWorkload(
  ctx: BrokerContext,
  bearer: string | undefined,
  sessionId: string | undefined,
  secret?: SecretRef,
): Promise<WorkloadIdentity> {
  let token = bearer
  if (token === undefined && sessionId !== undefined) {
    const row = (
      await ctx.db.query<{ token: string | null }>('SELECT token FROM kbs_sessions WHERE id = $1', [
        sessionId,
      ])
    ).rows[0]
    const sealed = row?.token == null ? undefined : fromBase64(row.token)
    token =
      sealed === undefined
        ? undefined
        : fromUtf8(openSecret(ctx.keys.rootKey, sealed, `kbs-session-token:${sessionId}`))
  }
  if (token === undefined)
    throw new BrokerError(
      'ERR_BROKER_UNAUTHENTICATED',
      'An attestation token (or attested session) is required',
    )
  const claims = verifyEarTokenSync(token, {
    jwks: publicJwks(ctx.keys.signingKey),
    issuer: ctx.issuer,
    now: ctx.clock(),
  })
  const w = claims['subrosa.workload']
  // One query, answered alike by every replica: the token's job, whether it was revoked, the
  // current version of the token's policy and, when asked, the row of the secret to release
  // (read, still sealed, before the decision; opened only after it).
  const row = (
    await ctx.db.query<
      {
        job: string | null
        revoked: boolean
        version: number | null
        hash: string | null
        secret_found: boolean | null
      } & Partial<StoredRow>
    >(
      `SELECT t.job, r.job IS NOT NULL AS revoked, p.version, p.hash${
        secret === undefined ? '' : `, sec.found AS secret_found, sec.sealed, sec.kind, sec.meta`
      }
      FROM (SELECT 1) AS one
      LEFT JOIN workload_tokens t ON t.jti = $1
      LEFT JOIN job_revocations r ON r.workload = t.workload AND r.job = t.job
      LEFT JOIN LATERAL (
        SELECT version, hash FROM policies WHERE namespace = $2 AND name = $3
        ORDER BY version DESC LIMIT 1
      ) p ON true${
        secret === undefined
          ? ''
          : `
      LEFT JOIN LATERAL (
        SELECT true AS found, ${STORED_ROW_COLUMNS} FROM secrets
        WHERE namespace = $4 AND policy = $5 AND name = $6
      ) sec ON true`
      }`,
      secret === undefined
        ? [claims.jti, w.namespace, w.policy]
        : [claims.jti, w.namespace, w.policy, secret.namespace, secret.policy, secret.name],
    )
  ).rows[0]
  if (row?.revoked === true)
    throw new BrokerError(
      'ERR_TOKEN_REVOKED',
      `The token's job ${row.job} ended or was revoked; it releases nothing`,
    )
  if (row === undefined || row.version === null || row.hash === null)
    throw new BrokerError(
      'ERR_BROKER_NOT_FOUND',
      `Policy ${w.namespace}/${w.policy} does not exist`,
    )
  const stored = await policyVersionOf(ctx, w.namespace, w.policy, {
    version: Number(row.version),
    hash: row.hash,
  })
  if (stored.hash !== w.policyHash) {
    throw new BrokerError(
      'ERR_TOKEN_STALE',
      `Policy ${w.namespace}/${w.policy} changed since this token was issued; attest again`,
    )
  }
  const workload = stored.policy.workloads.find((x) => x.name === w.workload)
  if (workload === undefined)
    throw new BrokerError('ERR_TOKEN_STALE', 'The token names a workload its policy no longer has')
  return {
    claims,
    teeKey: teePublicKeyOf(claims),
    stored,
    workload,
    ref: `${w.namespace}/${w.policy}/${w.workload}`,
    ...(row.job === null ? {} : { job: row.job }),
    ...(secret === undefined
      ? {}
      : {
          secret: {
            ref: `${secret.namespace}/${secret.policy}/${secret.name}`,
            row:
              row.secret_found === true
                ? ({ sealed: row.sealed, kind: row.kind, meta: row.meta ?? null } as StoredRow)
                : undefined,
          },
        }),
  }
}
