// The diagnostics provider of the healthcare example: the inference service of
// packages/inference serving the encrypted WDBC model. Each replica attests under the launcher
// with its own TLS certificate and request key bound in its token, gets the model key from the
// broker (nothing is copied between replicas), and accepts only exchanged tokens for its
// audience, each once, from the API workload.
import {
  exchangedCallerVerifier,
  type ModelService,
  type ModelServiceLogEvent,
  startModelService,
} from '@subrosa/inference'
import { attestWorkload, type TeeProvider } from '@subrosa/launcher'
import type { BrokerClient, ReplayCache, ServiceExpectation } from '@subrosa/sdk'

/** Options of {@link startDiagnosticsService}. */
export type DiagnosticsServiceOptions = {
  /** The broker, its CA pinned (one client per replica is fine). */
  readonly client: BrokerClient
  readonly tee: TeeProvider
  /** This service's policy workload, e.g. `health/clinic/diagnostics`. */
  readonly workload: string
  /** The encrypted model (Subrosa streaming AEAD); decrypted only in memory. */
  readonly modelFile: Uint8Array
  readonly issuer: string
  readonly jwks: ServiceExpectation['jwks']
  /** This service's name in callers' `calls:` (the exchanged token's audience). */
  readonly audience: string
  /** Workloads that may call it, e.g. `['health/clinic/api']`. */
  readonly callers: readonly string[]
  /** Shared by all replicas, so a token used at one is refused at the others. */
  readonly replayCache: ReplayCache
  readonly host?: string
  readonly port?: number
  readonly log?: (event: ModelServiceLogEvent) => void
}

/**
 * Start one diagnostics replica.
 *
 * @example const dx = await startDiagnosticsService({ client, tee, workload: 'health/clinic/diagnostics', modelFile, ... })
 * @throws what `attestWorkload` throws; `ERR_KMS_NOT_GRANTED` when the policy grants no model key;
 * `ERR_STREAM_*` for a model file that does not decrypt.
 */
export function startDiagnosticsService(options: DiagnosticsServiceOptions): Promise<ModelService> {
  return startModelService({
    modelFile: options.modelFile,
    attest: async ({ keyPair, tlsCertificate }) => {
      const attested = await attestWorkload({
        client: options.client,
        workload: options.workload,
        tee: options.tee,
        keyPair,
        tlsCertificate,
      })
      return { token: attested.token, kms: attested.kms }
    },
    verifyCaller: exchangedCallerVerifier({
      jwks: options.jwks,
      issuer: options.issuer,
      audience: options.audience,
      replayCache: options.replayCache,
      workloads: options.callers,
    }),
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.port === undefined ? {} : { port: options.port }),
    ...(options.log === undefined ? {} : { log: options.log }),
  })
}
