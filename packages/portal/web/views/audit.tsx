import type { AuditEntry } from '../audit-chain.ts'
import type { AuditState } from './console.tsx'
import { ErrorBox, Loading, Section } from './ui.tsx'

/** The live "chain verified up to entry N" indicator (green), or where it broke (red). */
export function AuditIndicator(props: { audit: AuditState }) {
  const { report, problem } = props.audit
  let state: 'ok' | 'bad' | 'unknown' = 'unknown'
  let text = 'Verifying the audit chain…'
  if (report?.status.ok === true) {
    state = 'ok'
    text = `Audit chain verified up to entry ${report.status.upTo}`
  } else if (report !== undefined && !report.status.ok) {
    state = 'bad'
    text = `Audit chain broken at entry ${report.status.seq}: ${report.status.reason}`
  }
  if (problem !== undefined) {
    state = 'bad'
    text = `Audit chain not verified: ${problem.message}`
  }
  return (
    <p class={`indicator ${state}`} role="status" aria-live="polite" data-state={state}>
      <span aria-hidden="true">{state === 'ok' ? '✔' : state === 'bad' ? '✖' : '…'}</span> {text}
    </p>
  )
}

/** A one-line description of an entry's data (ids, codes and decisions only: no values). */
export function describe(entry: AuditEntry): string {
  if (entry.data === undefined) return '(another owner’s namespace: data withheld)'
  return Object.entries(entry.data)
    .filter(([, v]) => typeof v !== 'object' || v === null || Array.isArray(v))
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`)
    .join(' ')
}

export function AuditView(props: { audit: AuditState }) {
  const { report, problem } = props.audit
  return (
    <Section title="Audit log" id="audit-title">
      <p>
        Every entry names the hash of the one before; the console fetches the broker's signed export
        every few seconds and checks the whole chain here, in the browser.
      </p>
      <AuditIndicator audit={props.audit} />
      {problem === undefined ? null : (
        <ErrorBox title="Cannot read the audit log" message={problem.message} code={problem.code} />
      )}
      {report === undefined ? (
        <Loading what="the audit log" />
      ) : (
        <table>
          <caption>Newest first ({report.entries.length} entries)</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time</th>
              <th scope="col">Kind</th>
              <th scope="col">Namespace</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {[...report.entries].reverse().map((e) => (
              <tr
                key={e.seq}
                class={!report.status.ok && report.status.seq === e.seq ? 'broken' : undefined}
              >
                <td>{e.seq}</td>
                <td>{e.at}</td>
                <td>{e.kind}</td>
                <td>{e.namespace ?? '—'}</td>
                <td class="details">{describe(e)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  )
}
