import { type BaseError, isSubrosaError } from '@subrosa/core'
import {
  EXCHANGED_TOKEN_MAX_TTL_SECONDS,
  JWT_TOKEN_TYPE,
  parseWire,
  signExchangedToken,
  TOKEN_EXCHANGE_GRANT_TYPE,
  type TokenExchangeResponse,
  tokenExchangeRequestSchema,
} from '@subrosa/protocol'
import { appendAudit } from './audit.ts'
import type { BrokerContext } from './context.ts'
import { BrokerError } from './errors.ts'
import { authenticateWorkload } from './kbs.ts'
import { randomId } from './state.ts'

/**
 * `POST /v1/token/exchange` (RFC 8693): trade a workload's EAR token (`subject_token`) for a
 * short-lived token whose `aud` is one downstream service the workload's policy lists in
 * `calls`. Every decision after the request parses is one audit entry.
 *
 * @throws BrokerError `ERR_EXCHANGE_UNSUPPORTED`, `ERR_EXCHANGE_NOT_ALLOWED`, `ERR_TOKEN_STALE`;
 * ProtocolError `ERR_PROTOCOL_MALFORMED`, `ERR_TOKEN_*`.
 */
export async function exchangeToken(
  ctx: BrokerContext,
  body: unknown,
): Promise<TokenExchangeResponse> {
  const request = parseWire(tokenExchangeRequestSchema, body, 'token exchange request')
  if (request.grant_type !== TOKEN_EXCHANGE_GRANT_TYPE)
    throw unsupported(`grant_type must be ${TOKEN_EXCHANGE_GRANT_TYPE}`)
  if (request.subject_token_type !== JWT_TOKEN_TYPE)
    throw unsupported(`subject_token_type must be ${JWT_TOKEN_TYPE}`)
  if (request.requested_token_type !== undefined && request.requested_token_type !== JWT_TOKEN_TYPE)
    throw unsupported(`requested_token_type can only be ${JWT_TOKEN_TYPE}`)
  if (request.actor_token !== undefined || request.actor_token_type !== undefined)
    throw unsupported('Delegation (actor_token) is not supported: the subject acts for itself')
  if (request.resource !== undefined || request.scope !== undefined)
    throw unsupported('Name the downstream service with audience; resource and scope are unused')

  let ref = 'unknown'
  let namespace: string | undefined
  let subjectJti: string | undefined
  try {
    const identity = await authenticateWorkload(ctx, request.subject_token, undefined)
    ref = identity.ref
    namespace = identity.claims['subrosa.workload'].namespace
    subjectJti = identity.claims.jti
    if (!(identity.workload.calls ?? []).includes(request.audience))
      throw new BrokerError(
        'ERR_EXCHANGE_NOT_ALLOWED',
        `Policy ${identity.stored.policy.metadata.namespace}/${identity.stored.policy.metadata.name} does not let workload ${identity.workload.name} call ${request.audience}`,
      )
    const now = ctx.clock()
    // Never outlive the subject token, never more than five minutes.
    const left = identity.claims.exp - Math.floor(now.getTime() / 1000)
    const ttl = Math.min(EXCHANGED_TOKEN_MAX_TTL_SECONDS, left)
    if (ttl < 1) throw new BrokerError('ERR_TOKEN_STALE', 'The subject token is about to expire')
    const jti = randomId(ctx.random, 16)
    const w = identity.claims['subrosa.workload']
    const token = await signExchangedToken(
      {
        issuer: ctx.issuer,
        audience: request.audience,
        now,
        ttlSeconds: ttl,
        jti,
        workload: {
          namespace: w.namespace,
          policy: w.policy,
          workload: w.workload,
          policyHash: w.policyHash,
          policyVersion: w.policyVersion,
        },
        tee: identity.claims['subrosa.tee'],
        insecure: identity.claims['subrosa.insecure'],
        confirmationKey: identity.teeKey,
      },
      ctx.keys.signingKey,
    )
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'token-exchange',
      namespace,
      data: {
        workload: ref,
        audience: request.audience,
        decision: 'allow',
        tokenId: jti,
        subjectTokenId: subjectJti,
        expiresIn: ttl,
      },
    })
    ctx.log({ event: 'token-exchange', decision: 'allow', workload: ref })
    return {
      access_token: token,
      issued_token_type: JWT_TOKEN_TYPE,
      token_type: 'Bearer',
      expires_in: ttl,
    }
  } catch (error) {
    const code = isSubrosaError(error) ? (error as BaseError).code : 'ERR_BROKER_INTERNAL'
    await appendAudit(ctx.db, ctx.clock, {
      kind: 'token-exchange',
      namespace,
      data: {
        workload: ref,
        audience: request.audience,
        decision: 'deny',
        code,
        ...(subjectJti === undefined ? {} : { subjectTokenId: subjectJti }),
      },
    })
    ctx.log({ event: 'token-exchange', decision: 'deny', workload: ref, code })
    throw error
  }
}

function unsupported(message: string): BrokerError {
  return new BrokerError('ERR_EXCHANGE_UNSUPPORTED', message)
}
