import type { VerifyEvidenceOptions } from '@subrosa/attest'
import type { Clock, RandomBytes } from '@subrosa/core'
import type { JWK } from 'jose'
import type { SelfAttestation } from './self-attestation.ts'
import type { BrokerKeys } from './state.ts'
import type { Db } from './store/store.ts'

/** One structured log event. Never holds secrets, tokens, cookies or request bodies. */
export type LogEvent = Readonly<Record<string, string | number | boolean | undefined>>

/** Everything the broker's routes and services share. */
export type BrokerContext = {
  readonly db: Db
  readonly keys: BrokerKeys
  readonly clock: Clock
  readonly random: RandomBytes
  /** The token issuer: the broker's public URL. */
  readonly issuer: string
  /** Accept the insecure `sim` TEE at all (policies must accept it too). */
  readonly allowSim: boolean
  /** Refuse policy changes that do not carry enough owner approvals on their own (the request
   * proof of the owner who applies does not count as an approval). */
  readonly signedPoliciesOnly?: boolean
  readonly simTrustedKeys: readonly JWK[]
  /** Collateral sources, trust roots and token issuers for hardware evidence and tokens. */
  readonly verification: Omit<VerifyEvidenceOptions, 'now' | 'sim'>
  readonly tokenTtlSeconds: number
  readonly nonceTtlSeconds: number
  /** Version string reported in tokens (`ear.verifier-id.build`). */
  readonly build: string
  readonly log: (event: LogEvent) => void
  /** The broker's own (sim) evidence source for `GET /v1/attestation/self`; off when undefined. */
  readonly selfAttestation?: SelfAttestation | undefined
}
