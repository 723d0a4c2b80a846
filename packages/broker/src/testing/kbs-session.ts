// Test support: a TEE's side of the KBS flow against an in-process broker.
import type { RuntimeData } from '@subrosa/protocol'
import { type CryptoKey, exportJWK, generateKeyPair } from 'jose'
import type { TestBroker } from './harness.ts'

/** An open KBS session: its cookie, and the runtime data evidence must bind (fresh TEE key). */
export type KbsSession = {
  readonly cookie: string
  readonly runtimeData: RuntimeData
  readonly teeKey: CryptoKey
}

/**
 * `POST /kbs/v0/auth` as `tee` for `workload` (`ns/policy/workload`) and, when given, `job`, with
 * a new TEE key.
 */
export async function openKbsSession(
  tb: TestBroker,
  tee: string,
  workload: string,
  job?: string,
): Promise<KbsSession> {
  const auth = await tb.app.inject({
    method: 'POST',
    url: '/kbs/v0/auth',
    payload: {
      version: '0.1.1',
      tee,
      'extra-params': { workload, ...(job === undefined ? {} : { job }) },
    },
  })
  if (auth.statusCode !== 200) throw new Error(`KBS auth failed: ${auth.body}`)
  const cookie = String(auth.headers['set-cookie']).split(';')[0] as string
  const { nonce } = auth.json() as { nonce: string }
  const { privateKey, publicKey } = await generateKeyPair('ECDH-ES+A256KW')
  const { x, y } = await exportJWK(publicKey)
  const runtimeData: RuntimeData = {
    nonce,
    'tee-pubkey': {
      kty: 'EC',
      crv: 'P-256',
      x: x as string,
      y: y as string,
      alg: 'ECDH-ES+A256KW',
    },
  }
  return { cookie, runtimeData, teeKey: privateKey as CryptoKey }
}

/** `POST /kbs/v0/attest` in the session, with `runtimeData` (default: the session's). */
export function sendEvidence(
  tb: TestBroker,
  session: KbsSession,
  evidence: unknown,
  runtimeData: RuntimeData = session.runtimeData,
) {
  return tb.app.inject({
    method: 'POST',
    url: '/kbs/v0/attest',
    headers: { cookie: session.cookie },
    payload: { 'runtime-data': runtimeData, 'tee-evidence': { primary_evidence: evidence } },
  })
}
