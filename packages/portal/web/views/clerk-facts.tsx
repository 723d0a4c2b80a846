// What the clerk portal verified of the service, in plain words. The simulated TEE is named for
// what it is, prominently: it has no hardware protection at all.
import type { ServiceFacts } from '@subrosa/protocol'
import type { ClerkConfig } from '../clerk.ts'
import { Short } from './ui.tsx'

const HARDWARE: Record<string, string> = {
  sim: 'Simulated TEE — not secure',
  sgx: 'Intel SGX enclave',
  tdx: 'Intel TDX confidential VM',
  snp: 'AMD SEV-SNP confidential VM',
}

export function ServiceFactsList(props: {
  facts: ServiceFacts
  config: ClerkConfig
  verified: boolean
}) {
  const f = props.facts
  const expected = props.config.measurement.some(
    (m) => m.toLowerCase() === f.measurement.toLowerCase(),
  )
  return (
    <>
      {f.insecure ? (
        <p class="danger-banner" role="note">
          <strong>Simulated TEE — not secure.</strong> This service runs without hardware
          protection: its host can read every record. Use it for development and demonstrations
          only, never with real patient data.
        </p>
      ) : null}
      <dl class="facts" aria-label="What was verified">
        <dt>What code</dt>
        <dd>
          Workload <code>{f.workload}</code>, measurement{' '}
          <Short value={f.measurement || '(none)'} />{' '}
          {expected ? '— the code this portal expects' : '— NOT the code this portal expects'}
        </dd>
        <dt>Which hardware</dt>
        <dd class={f.insecure ? 'deny' : undefined}>{HARDWARE[f.tee] ?? f.tee}</dd>
        <dt>Debug mode</dt>
        <dd class={f.debug ? 'deny' : undefined}>
          {f.debug ? 'ON — the host can read the service’s memory' : 'off'}
        </dd>
        <dt>TCB status</dt>
        <dd>
          {f.tcbStatus ??
            (f.tee === 'sim'
              ? 'not reported (a simulated TEE has no platform firmware)'
              : 'not reported')}
        </dd>
        <dt>Broker’s appraisal</dt>
        <dd>
          {f.status === 'affirming'
            ? 'affirming'
            : f.status === 'warning' && f.insecure
              ? 'warning (accepted only because this portal allows the simulated TEE)'
              : f.status}
        </dd>
        <dt>Policy</dt>
        <dd>
          version {f.policyVersion}, <Short value={f.policyHash} />
        </dd>
        <dt>Attestation valid until</dt>
        <dd>{f.expiresAt.toLocaleString()}</dd>
        <dt>Request encryption</dt>
        <dd>
          {props.verified
            ? 'Records are encrypted in this page to the key the attestation binds; only this service can open them.'
            : 'None: nothing is sent to a service that failed verification.'}
        </dd>
      </dl>
    </>
  )
}
