import { ADMIN_AUTH_SCHEME, ownerKeyId, verifyAdminProof } from '@subrosa/protocol'
import type { JWK } from 'jose'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'

/** Register an owner public key (idempotent); returns its id. */
export async function registerOwner(ctx: BrokerContext, publicJwk: JWK): Promise<string> {
  const { d: _d, ...pub } = publicJwk
  const id = await ownerKeyId(pub)
  const rows = (
    await ctx.db.query(
      'INSERT INTO owners (id, jwk, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id',
      [id, JSON.stringify(pub), ctx.clock()],
    )
  ).rows
  if (rows.length > 0)
    await appendAudit(ctx.db, ctx.clock, { kind: 'owner.register', data: { owner: id } })
  return id
}

/**
 * Authenticate an admin request by its `Authorization: Subrosa-Owner <proof>` header: the proof
 * must verify under a registered owner key, match the request and be used once.
 *
 * @throws BrokerError `ERR_BROKER_UNAUTHENTICATED`, `ERR_BROKER_REPLAY`; ProtocolError `ERR_ADMIN_PROOF`.
 */
export async function authenticateOwner(
  ctx: BrokerContext,
  authorization: string | undefined,
  request: { method: string; path: string; body: Uint8Array },
): Promise<string> {
  const prefix = `${ADMIN_AUTH_SCHEME} `
  if (authorization === undefined || !authorization.startsWith(prefix)) {
    throw new BrokerError(
      'ERR_BROKER_UNAUTHENTICATED',
      `Admin calls need an Authorization: ${ADMIN_AUTH_SCHEME} proof`,
    )
  }
  const now = ctx.clock()
  let revoked: string | undefined
  const { ownerId, jti } = await verifyAdminProof(authorization.slice(prefix.length), request, {
    now,
    resolveKey: async (id) => {
      const owner = await ownerRecord(ctx, id)
      if (owner?.revoked === true) revoked = id
      return owner?.jwk
    },
  })
  if (revoked !== undefined) {
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'admin.deny',
      data: { owner: revoked, code: 'ERR_BROKER_OWNER_REVOKED', route: request.path.split('?')[0] },
    })
    throw new BrokerError('ERR_BROKER_OWNER_REVOKED', 'The owner key of this request was revoked')
  }
  await ctx.db.query('DELETE FROM admin_proofs WHERE expires_at < $1', [now])
  const fresh = (
    await ctx.db.query(
      'INSERT INTO admin_proofs (jti, owner, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING jti',
      [jti, ownerId, new Date(now.getTime() + 300_000)],
    )
  ).rows
  if (fresh.length === 0)
    throw new BrokerError('ERR_BROKER_REPLAY', 'This admin request proof was already used')
  return ownerId
}

/** A registered owner key, or undefined. */
export async function ownerRecord(
  ctx: BrokerContext,
  id: string,
): Promise<{ jwk: JWK; revoked: boolean } | undefined> {
  const row = (
    await ctx.db.query<{ jwk: JWK; revoked_at: Date | null }>(
      'SELECT jwk, revoked_at FROM owners WHERE id = $1',
      [id],
    )
  ).rows[0]
  return row === undefined ? undefined : { jwk: row.jwk, revoked: row.revoked_at !== null }
}

/**
 * Revoke an owner key for good: it can no longer sign admin requests or policy approvals, and
 * registering it again does not undo the revocation. An owner may revoke only its own key (the
 * response to a suspected compromise); see ADR 0012.
 *
 * @throws BrokerError `ERR_BROKER_FORBIDDEN`, `ERR_BROKER_NOT_FOUND`.
 */
export async function revokeOwner(
  ctx: BrokerContext,
  callerId: string,
  ownerId: string,
): Promise<{ owner: string; revoked: boolean }> {
  if (callerId !== ownerId) {
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'admin.deny',
      data: { owner: callerId, target: ownerId, code: 'ERR_BROKER_FORBIDDEN', route: 'revoke' },
    })
    throw new BrokerError('ERR_BROKER_FORBIDDEN', 'An owner may revoke only its own key')
  }
  const rows = (
    await ctx.db.query(
      'UPDATE owners SET revoked_at = $2, revoked_by = $3 WHERE id = $1 AND revoked_at IS NULL RETURNING id',
      [ownerId, ctx.clock(), callerId],
    )
  ).rows
  if (rows.length > 0)
    await appendAudit(ctx.db, ctx.clock, { kind: 'owner.revoke', data: { owner: ownerId } })
  return { owner: ownerId, revoked: true }
}
