import { type Clock, systemClock } from '@subrosa/core'
import { type EarClaims, verifyEarToken } from '@subrosa/protocol'
import { type VerifyExchangedTokenOptions, verifyExchangedToken } from '@subrosa/sdk'
import type { JSONWebKeySet } from 'jose'
import { InferenceError } from './errors.ts'
import type { VerifyCaller } from './service.ts'

/**
 * A {@link VerifyCaller} that accepts EAR tokens of the broker (signature against its JWKS,
 * issuer, validity at `clock()`) whose workload is one of `workloads` (`ns/policy/workload`).
 *
 * @example verifyCaller: earCallerVerifier({ jwks, issuer, workloads: ['health/portal/api'] })
 * @throws (from the verifier) ProtocolError `ERR_TOKEN_*`; InferenceError
 * `ERR_INFER_UNAUTHORIZED` for a workload not in the list.
 */
export function earCallerVerifier(options: {
  readonly jwks: JSONWebKeySet
  readonly issuer: string
  readonly workloads: readonly string[]
  readonly clock?: Clock
}): VerifyCaller {
  const clock = options.clock ?? systemClock
  const allowed = new Set(options.workloads)
  return async (token): Promise<EarClaims> => {
    const claims = await verifyEarToken(token, {
      jwks: options.jwks,
      issuer: options.issuer,
      now: clock(),
    })
    const w = claims['subrosa.workload']
    const name = `${w.namespace}/${w.policy}/${w.workload}`
    if (!allowed.has(name))
      throw new InferenceError(
        'ERR_INFER_UNAUTHORIZED',
        `Workload ${name} may not call this service`,
      )
    return claims
  }
}

/**
 * A {@link VerifyCaller} that accepts service tokens from the broker's token exchange (RFC 8693):
 * audience = this service, used once (`replayCache`, shared by all replicas: Redis), subject one
 * of `workloads`. Preferred over EAR tokens, which any callee could replay elsewhere.
 *
 * @example verifyCaller: exchangedCallerVerifier({ jwks, issuer, audience: 'diagnostics', workloads: ['health/portal/api'], replayCache })
 * @throws (from the verifier) ProtocolError `ERR_TOKEN_AUDIENCE`, `ERR_TOKEN_REPLAY`, ...;
 * InferenceError `ERR_INFER_UNAUTHORIZED` for a workload not in the list.
 */
export function exchangedCallerVerifier(
  options: Omit<VerifyExchangedTokenOptions, 'clock'> & {
    readonly workloads: readonly string[]
    readonly clock?: Clock
  },
): VerifyCaller {
  const allowed = new Set(options.workloads)
  const { workloads: _, ...verify } = options
  return async (token) => {
    const claims = await verifyExchangedToken(token, verify)
    if (!allowed.has(claims.sub))
      throw new InferenceError(
        'ERR_INFER_UNAUTHORIZED',
        `Workload ${claims.sub} may not call this service`,
      )
    return claims
  }
}
