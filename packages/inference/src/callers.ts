import { type Clock, systemClock } from '@subrosa/core'
import { type EarClaims, verifyEarToken } from '@subrosa/protocol'
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
