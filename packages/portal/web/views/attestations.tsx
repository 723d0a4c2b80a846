import type { AuditState } from './console.tsx'
import { Loading, Section, Short } from './ui.tsx'

const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : String(v))

/** Recent attestation decisions (from the verified audit log), with clause or refusal code. */
export function AttestationsView(props: { audit: AuditState }) {
  const { report } = props.audit
  if (report === undefined) return <Loading what="attestation decisions" />
  const decisions = report.entries
    .filter((e) => e.kind === 'attestation' && e.data !== undefined)
    .reverse()
    .slice(0, 100)
  return (
    <Section title="Recent attestation decisions" id="attestations-title">
      {decisions.length === 0 ? (
        <p>No workload has attested yet.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Time</th>
              <th scope="col">Workload</th>
              <th scope="col">TEE</th>
              <th scope="col">Decision</th>
              <th scope="col">Reason</th>
              <th scope="col">Measurement</th>
            </tr>
          </thead>
          <tbody>
            {decisions.map((e) => {
              const d = e.data as Record<string, unknown>
              const allow = d.decision === 'allow'
              return (
                <tr key={e.seq}>
                  <td>{e.at}</td>
                  <td>{str(d.workload)}</td>
                  <td>
                    {str(d.tee)}
                    {d.insecure === true ? (
                      <strong class="warn"> (simulated — not secure)</strong>
                    ) : null}
                  </td>
                  <td class={allow ? 'allow' : 'deny'}>{allow ? 'allowed' : 'denied'}</td>
                  <td>
                    {d.clause === undefined ? null : <>clause {str(d.clause)} </>}
                    {d.code === undefined ? null : <code>{str(d.code)}</code>}
                  </td>
                  <td>
                    {d.measurement === undefined ? '—' : <Short value={str(d.measurement)} />}
                  </td>
                </tr>
              )
            })}
          </tbody>
        </table>
      )}
    </Section>
  )
}
