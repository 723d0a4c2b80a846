// Policies: pick one, see its versions, compare two of them, edit the next version, review the
// change (diff + hash) and apply it signed by the owner key in this browser.

import { lineDiff } from '@subrosa/policy'
import { useEffect, useState } from 'preact/hooks'
import { api, type Broker, type PolicyVersion, type PolicyVersionSummary } from '../api.ts'
import { type Draft, parseDraft, withPredecessor } from '../policy-hash.ts'
import { signPolicyApproval } from '../signing.ts'
import type { AuditState } from './console.tsx'
import { knownPolicies } from './known.ts'
import { ErrorBox, Loading, type Problem, problemOf, Section, Short } from './ui.tsx'

export function Diff(props: { from: string; to: string; label: string }) {
  const lines = lineDiff(props.from, props.to)
  const changed = lines.filter((l) => l.op !== ' ').length
  return (
    <figure class="diff">
      <figcaption>
        {props.label}: {changed === 0 ? 'no changes' : `${changed} changed line(s)`}
      </figcaption>
      <pre>
        {lines.map((l, i) => {
          const text = `${l.op} ${l.text}\n`
          if (l.op === '+') return <ins key={i}>{text}</ins>
          if (l.op === '-') return <del key={i}>{text}</del>
          return <span key={i}>{text}</span>
        })}
      </pre>
    </figure>
  )
}

export function NamespacePolicyPicker(props: {
  namespaces: string[]
  audit: AuditState
  namespace: string
  policy: string
  onChange: (namespace: string, policy: string) => void
  idPrefix: string
}) {
  const policies = knownPolicies(props.audit.report?.entries ?? [], props.namespace)
  return (
    <div class="row">
      <label for={`${props.idPrefix}-ns`}>Namespace</label>
      <select
        id={`${props.idPrefix}-ns`}
        value={props.namespace}
        onChange={(e) => props.onChange((e.currentTarget as HTMLSelectElement).value, '')}
      >
        <option value="">Choose…</option>
        {props.namespaces.map((n) => (
          <option key={n} value={n}>
            {n}
          </option>
        ))}
      </select>
      <label for={`${props.idPrefix}-policy`}>Policy</label>
      <select
        id={`${props.idPrefix}-policy`}
        value={props.policy}
        disabled={props.namespace === ''}
        onChange={(e) =>
          props.onChange(props.namespace, (e.currentTarget as HTMLSelectElement).value)
        }
      >
        <option value="">Choose…</option>
        {policies.map((p) => (
          <option key={p} value={p}>
            {p}
          </option>
        ))}
      </select>
    </div>
  )
}

export function PoliciesView(props: { broker: Broker; namespaces: string[]; audit: AuditState }) {
  const [ns, setNs] = useState(props.namespaces[0] ?? '')
  const [name, setName] = useState('')
  const [history, setHistory] = useState<PolicyVersionSummary[] | undefined>()
  const [versions, setVersions] = useState<Record<number, PolicyVersion>>({})
  const [compare, setCompare] = useState<[number, number]>([0, 0])
  const [draft, setDraft] = useState('')
  const [review, setReview] = useState<Draft | undefined>()
  const [problem, setProblem] = useState<Problem | undefined>()
  const [busy, setBusy] = useState(false)
  const [applied, setApplied] = useState<string | undefined>()
  const [reload, setReload] = useState(0)

  useEffect(() => {
    if (ns === '' || name === '') return
    let live = true
    setHistory(undefined)
    setProblem(undefined)
    ;(async () => {
      const h = await api.history(props.broker, ns, name)
      const all = await Promise.all(h.map((v) => api.version(props.broker, ns, name, v.version)))
      if (!live) return
      setHistory(h)
      setVersions(Object.fromEntries(all.map((v) => [v.version, v])))
      const last = h.at(-1) as PolicyVersionSummary
      setCompare([Math.max(1, last.version - 1), last.version])
      const current = all.at(-1) as PolicyVersion
      setDraft(withPredecessor(current.yaml, current.hash))
      setReview(undefined)
    })().catch((e: unknown) => live && setProblem(problemOf(e)))
    return () => {
      live = false
    }
  }, [props.broker, ns, name, reload])

  const current = history === undefined ? undefined : versions[history.at(-1)?.version ?? 0]

  const onReview = async () => {
    setApplied(undefined)
    setReview(await parseDraft(draft))
  }

  const onApply = async () => {
    if (review?.ok !== true) return
    setBusy(true)
    setProblem(undefined)
    try {
      const { namespace, name: policyName } = review.policy.metadata
      const approval = await signPolicyApproval(
        { namespace, name: policyName, hash: review.hash },
        props.broker.owner,
        new Date(),
      )
      const result = await api.apply(props.broker, draft, [approval])
      setApplied(
        result.created
          ? `Applied ${namespace}/${policyName} version ${result.version}`
          : `Unchanged: ${namespace}/${policyName} version ${result.version} is already this document`,
      )
      setReview(undefined)
      await props.audit.refresh()
      if (namespace === ns && policyName === name) setReload((n) => n + 1)
    } catch (error) {
      setProblem(problemOf(error))
    } finally {
      setBusy(false)
    }
  }

  const [from, to] = compare
  const pick = (i: 0 | 1) => (e: Event) => {
    const v = Number((e.currentTarget as HTMLSelectElement).value)
    setCompare(i === 0 ? [v, to] : [from, v])
  }

  return (
    <Section title="Policies" id="policies-title">
      <NamespacePolicyPicker
        idPrefix="policies"
        namespaces={props.namespaces}
        audit={props.audit}
        namespace={ns}
        policy={name}
        onChange={(n, p) => {
          setNs(n)
          setName(p)
        }}
      />
      {problem === undefined ? null : (
        <ErrorBox title="The broker refused" message={problem.message} code={problem.code} />
      )}
      {applied === undefined ? null : (
        <p class="success" role="status">
          {applied}
        </p>
      )}
      {ns === '' || name === '' ? (
        <p>Choose a namespace and a policy, or paste a new policy below.</p>
      ) : history === undefined ? (
        problem === undefined ? (
          <Loading what="the policy history" />
        ) : null
      ) : (
        <>
          <h3>Version history</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Applied</th>
                <th scope="col">By</th>
                <th scope="col">Approved by</th>
                <th scope="col">Hash</th>
              </tr>
            </thead>
            <tbody>
              {[...history].reverse().map((v) => (
                <tr key={v.version}>
                  <td>v{v.version}</td>
                  <td>{v.createdAt}</td>
                  <td>
                    <Short value={v.createdBy} />
                  </td>
                  <td>{v.approvedBy.length} owner(s)</td>
                  <td>
                    <Short value={v.hash} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <h3>Compare versions</h3>
          <div class="row">
            <label for="diff-from">From</label>
            <select id="diff-from" value={String(from)} onChange={pick(0)}>
              {history.map((v) => (
                <option key={v.version} value={String(v.version)}>
                  v{v.version}
                </option>
              ))}
            </select>
            <label for="diff-to">To</label>
            <select id="diff-to" value={String(to)} onChange={pick(1)}>
              {history.map((v) => (
                <option key={v.version} value={String(v.version)}>
                  v{v.version}
                </option>
              ))}
            </select>
          </div>
          <Diff
            label={`v${from} → v${to}`}
            from={versions[from]?.yaml ?? ''}
            to={versions[to]?.yaml ?? ''}
          />
        </>
      )}
      <h3>Change</h3>
      <label for="policy-draft">
        Next version (YAML; <code>metadata.predecessor</code> must be the current hash)
      </label>
      <textarea
        id="policy-draft"
        rows={18}
        spellcheck={false}
        value={draft}
        onInput={(e) => {
          setDraft((e.currentTarget as HTMLTextAreaElement).value)
          setReview(undefined)
        }}
      />
      <p class="actions">
        <button type="button" disabled={draft.trim() === ''} onClick={() => void onReview()}>
          Review change
        </button>
      </p>
      {review === undefined ? null : review.ok ? (
        <div class="review" aria-live="polite">
          <p>
            Hash of the new version: <Short value={review.hash} /> — your approval signs exactly
            this.
          </p>
          <Diff label="Current → draft" from={current?.yaml ?? ''} to={draft} />
          <button type="button" disabled={busy} onClick={() => void onApply()}>
            {busy ? 'Applying…' : 'Sign and apply'}
          </button>
        </div>
      ) : (
        <ErrorBox
          title="The draft is not a valid policy"
          message={review.problems.join('; ')}
          code={review.code}
        />
      )}
    </Section>
  )
}
