// Test support: a whole sim-TEE KBS attestation against an in-process broker.
import { createSimEvidence } from '@subrosa/attest'
import { reportDataFor } from '@subrosa/protocol'
import type { CryptoKey } from 'jose'
import type { TestBroker } from './harness.ts'
import { openKbsSession, sendEvidence } from './kbs-session.ts'

/** The measurement {@link attestSim} claims by default. */
export const SIM_MEASUREMENT = 'ab'.repeat(48)

/** Attest as `workload` (for `job`, when given) with sim evidence of `measurement`; the token when allowed. */
export async function attestSim(
  tb: TestBroker,
  measurement = SIM_MEASUREMENT,
  workload = 'acme/analytics/job',
  job?: string,
): Promise<{
  status: number
  body: Record<string, unknown>
  cookie: string
  teeKey: CryptoKey
}> {
  const session = await openKbsSession(tb, 'sim', workload, job)
  const evidence = await createSimEvidence(
    {
      measurement: Buffer.from(measurement, 'hex'),
      reportData: reportDataFor(session.runtimeData),
      debug: false,
      svn: 1,
    },
    tb.sim.privateJwk,
    tb.now(),
  )
  const res = await sendEvidence(tb, session, evidence)
  return {
    status: res.statusCode,
    body: res.json() as Record<string, unknown>,
    cookie: session.cookie,
    teeKey: session.teeKey,
  }
}
