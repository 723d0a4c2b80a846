import { type Clock, systemClock } from '@subrosa/core'
import {
  type ExchangedTokenClaims,
  JWT_TOKEN_TYPE,
  ProtocolError,
  TOKEN_EXCHANGE_GRANT_TYPE,
  type TokenExchangeResponse,
  verifyExchangedTokenClaims,
} from '@subrosa/protocol'
import type { JSONWebKeySet } from 'jose'
import type { BrokerClient } from './client.ts'
import { SdkError } from './errors.ts'
import type { ReplayCache } from './replay-cache.ts'

/** A token for one downstream service, from {@link exchangeToken}. */
export type ServiceToken = { readonly token: string; readonly expiresInSeconds: number }

/**
 * Trade the workload's EAR token for a short-lived token to call `audience`, which the
 * workload's policy must list in `calls` (`POST /v1/token/exchange`, RFC 8693).
 *
 * @example
 * const { token } = await exchangeToken(client, earToken, 'diagnostics')
 * await fetch(url, { headers: { authorization: `Bearer ${token}` } })
 * @throws BrokerCallError `ERR_EXCHANGE_NOT_ALLOWED`, `ERR_EXCHANGE_UNSUPPORTED`, `ERR_TOKEN_*`;
 * SdkError `ERR_SDK_CONNECT`, `ERR_SDK_RESPONSE`.
 */
export async function exchangeToken(
  client: BrokerClient,
  token: string,
  audience: string,
): Promise<ServiceToken> {
  const { body } = await client.call(
    'POST',
    '/v1/token/exchange',
    { kind: 'none' },
    {
      grant_type: TOKEN_EXCHANGE_GRANT_TYPE,
      subject_token: token,
      subject_token_type: JWT_TOKEN_TYPE,
      audience,
    },
  )
  const answer = body as Partial<TokenExchangeResponse> | undefined
  if (
    typeof answer?.access_token !== 'string' ||
    answer.issued_token_type !== JWT_TOKEN_TYPE ||
    typeof answer.expires_in !== 'number'
  )
    throw new SdkError('ERR_SDK_RESPONSE', 'The broker answered the exchange without a JWT')
  return { token: answer.access_token, expiresInSeconds: answer.expires_in }
}

/** Options of {@link verifyExchangedToken}. */
export type VerifyExchangedTokenOptions = {
  /** The broker's JWKS (`/.well-known/jwks.json`). */
  readonly jwks: JSONWebKeySet
  /** The broker's issuer URL. */
  readonly issuer: string
  /** This service's own name: tokens for any other audience are refused. */
  readonly audience: string
  /** Where seen token ids are remembered; shared by all replicas of the service. */
  readonly replayCache: ReplayCache
  /** Verification time (default: the system clock). */
  readonly clock?: Clock
  /** Accepted clock skew in seconds (default 0). */
  readonly clockToleranceSeconds?: number
}

/**
 * The downstream side of token exchange: verify a service token (signature by a key of the
 * broker's JWKS, `typ`, issuer, audience, validity) and accept its `jti` only once.
 *
 * @example
 * const claims = await verifyExchangedToken(bearer, {
 *   jwks, issuer: 'https://broker:8443', audience: 'diagnostics', replayCache,
 * })
 * claims.sub // 'acme/health/api'
 * @throws ProtocolError `ERR_TOKEN_AUDIENCE`, `ERR_TOKEN_EXPIRED`, `ERR_TOKEN_SIGNATURE`,
 * `ERR_TOKEN_REPLAY`, `ERR_TOKEN_INVALID`, `ERR_TOKEN_CLAIMS`; SdkError
 * `ERR_SDK_CACHE_UNAVAILABLE` (the token is refused when the replay cache cannot answer).
 */
export async function verifyExchangedToken(
  token: unknown,
  options: VerifyExchangedTokenOptions,
): Promise<ExchangedTokenClaims> {
  const now = (options.clock ?? systemClock)()
  const tolerance = options.clockToleranceSeconds ?? 0
  const claims = await verifyExchangedTokenClaims(token, {
    jwks: options.jwks,
    issuer: options.issuer,
    audience: options.audience,
    now,
    clockToleranceSeconds: tolerance,
  })
  const id = `${claims.iss}\n${claims.jti}`
  const expiresAt = new Date((claims.exp + tolerance) * 1000)
  if (!(await options.replayCache.remember(id, expiresAt, now)))
    throw new ProtocolError('ERR_TOKEN_REPLAY', 'This service token was already used')
  return claims
}
