// Keys and secrets by id and kind — never their values.
import { useEffect, useState } from 'preact/hooks'
import { api, type Broker, type SecretSummary } from '../api.ts'
import type { AuditState } from './console.tsx'
import { knownKeys, knownPolicies } from './known.ts'
import { ErrorBox, Loading, type Problem, problemOf, Section } from './ui.tsx'

export function KeysView(props: { broker: Broker; namespaces: string[]; audit: AuditState }) {
  const [ns, setNs] = useState(props.namespaces[0] ?? '')
  const entries = props.audit.report?.entries ?? []
  const policies = knownPolicies(entries, ns)
  const keys = knownKeys(entries, ns)
  const [secrets, setSecrets] = useState<Record<string, SecretSummary[]> | undefined>()
  const [problem, setProblem] = useState<Problem | undefined>()
  const policyList = policies.join('\n')
  useEffect(() => {
    if (ns === '') return
    let live = true
    setSecrets(undefined)
    Promise.all(
      policyList
        .split('\n')
        .filter((p) => p !== '')
        .map(async (p) => [p, await api.secrets(props.broker, ns, p)] as const),
    ).then(
      (all) => live && setSecrets(Object.fromEntries(all)),
      (e: unknown) => live && setProblem(problemOf(e)),
    )
    return () => {
      live = false
    }
  }, [props.broker, ns, policyList])

  return (
    <Section title="Keys and secrets" id="keys-title">
      <div class="row">
        <label for="keys-ns">Namespace</label>
        <select
          id="keys-ns"
          value={ns}
          onChange={(e) => setNs((e.currentTarget as HTMLSelectElement).value)}
        >
          {props.namespaces.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
      <p>Ids and kinds only: values never leave the broker, and the console never asks for them.</p>
      <h3>Dataset master keys</h3>
      {keys.length === 0 ? (
        <p>No master keys in {ns || 'this namespace'}.</p>
      ) : (
        <ul>
          {keys.map((k) => (
            <li key={k}>
              <code class="mono">{k}</code>
            </li>
          ))}
        </ul>
      )}
      <h3>Secrets declared by policies</h3>
      {problem === undefined ? null : (
        <ErrorBox title="Cannot list secrets" message={problem.message} code={problem.code} />
      )}
      {secrets === undefined ? (
        problem === undefined ? (
          <Loading what="secrets" />
        ) : null
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Policy</th>
              <th scope="col">Secret</th>
              <th scope="col">Kind</th>
              <th scope="col">Stored</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(secrets).flatMap(([policy, list]) =>
              list.map((s) => (
                <tr key={`${policy}/${s.name}`}>
                  <td>{policy}</td>
                  <td>
                    <code class="mono">
                      {ns}/{policy}/{s.name}
                    </code>
                  </td>
                  <td>{s.kind}</td>
                  <td>{s.stored ? 'yes' : 'not yet'}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      )}
    </Section>
  )
}
