// Dry run: what the broker would decide for uploaded evidence under a stored policy, with the
// deciding clause and the reasons. Nothing is released; the broker audits the dry run.
import { useState } from 'preact/hooks'
import { api, type Broker, type DryRunAnswer } from '../api.ts'
import { toBase64 } from '../bytes.ts'
import type { AuditState } from './console.tsx'
import { NamespacePolicyPicker } from './policies.tsx'
import { ErrorBox, type Problem, problemOf, Section } from './ui.tsx'

const TEXT_EVIDENCE = new Set(['sim', 'token'])

export function DryRunView(props: { broker: Broker; namespaces: string[]; audit: AuditState }) {
  const [ns, setNs] = useState(props.namespaces[0] ?? '')
  const [name, setName] = useState('')
  const [workload, setWorkload] = useState('')
  const [tee, setTee] = useState('sim')
  const [file, setFile] = useState<File | undefined>()
  const [busy, setBusy] = useState(false)
  const [answer, setAnswer] = useState<DryRunAnswer | undefined>()
  const [problem, setProblem] = useState<Problem | undefined>()

  const ready = ns !== '' && name !== '' && workload !== '' && file !== undefined

  const onRun = async (event: Event) => {
    event.preventDefault()
    if (!ready) return
    setBusy(true)
    setProblem(undefined)
    setAnswer(undefined)
    try {
      const evidence = TEXT_EVIDENCE.has(tee)
        ? (await file.text()).trim()
        : toBase64(new Uint8Array(await file.arrayBuffer()))
      setAnswer(
        await api.dryRun(props.broker, {
          tee,
          evidence,
          workload,
          policy: { namespace: ns, name },
        }),
      )
      void props.audit.refresh()
    } catch (error) {
      setProblem(problemOf(error))
    } finally {
      setBusy(false)
    }
  }

  return (
    <Section title="Policy dry run" id="dry-run-title">
      <form onSubmit={(e) => void onRun(e)}>
        <NamespacePolicyPicker
          idPrefix="dry-run"
          namespaces={props.namespaces}
          audit={props.audit}
          namespace={ns}
          policy={name}
          onChange={(n, p) => {
            setNs(n)
            setName(p)
          }}
        />
        <div class="row">
          <label for="dry-run-workload">Workload</label>
          <input
            id="dry-run-workload"
            value={workload}
            onInput={(e) => setWorkload((e.currentTarget as HTMLInputElement).value)}
          />
          <label for="dry-run-tee">Evidence type</label>
          <select
            id="dry-run-tee"
            value={tee}
            onChange={(e) => setTee((e.currentTarget as HTMLSelectElement).value)}
          >
            <option value="sim">sim (INSECURE, development)</option>
            <option value="sgx">SGX quote</option>
            <option value="tdx">TDX quote</option>
            <option value="snp">SEV-SNP report</option>
            <option value="token">attestation token</option>
          </select>
        </div>
        <div class="row">
          <label for="dry-run-evidence">Evidence file</label>
          <input
            id="dry-run-evidence"
            type="file"
            onChange={(e) => setFile((e.currentTarget as HTMLInputElement).files?.[0])}
          />
        </div>
        <button type="submit" disabled={!ready || busy}>
          {busy ? 'Asking the broker…' : 'Run dry run'}
        </button>
      </form>
      {problem === undefined ? null : (
        <ErrorBox title="The dry run failed" message={problem.message} code={problem.code} />
      )}
      {answer === undefined ? null : <DryRunResult answer={answer} />}
    </Section>
  )
}

function DryRunResult(props: { answer: DryRunAnswer }) {
  const a = props.answer
  const allow = a.decision?.allow === true
  return (
    <div class="result" aria-live="polite">
      <h3 class={allow ? 'allow' : 'deny'} data-testid="dry-run-decision">
        {allow ? 'Would allow' : 'Would deny'}
        {a.decision === undefined ? ' (evidence not verified)' : ` workload ${a.decision.workload}`}
      </h3>
      <dl>
        <dt>Deciding clause</dt>
        <dd data-testid="dry-run-clause">{a.decision?.clause ?? '—'}</dd>
        <dt>Evidence</dt>
        <dd>
          {a.verified ? 'verified' : 'not verified'} ({a.tee}
          {a.tee === 'sim' ? ', simulated TEE — not secure' : ''})
          {a.tcbStatus === undefined ? '' : `, TCB ${a.tcbStatus}`}
        </dd>
        <dt>Policy</dt>
        <dd>
          {a.policy.namespace}/{a.policy.name}
          {a.policy.version === undefined ? ' (draft)' : ` v${a.policy.version}`}
        </dd>
      </dl>
      {a.error === undefined ? null : (
        <ErrorBox title="Verification failed" message={a.error.message} code={a.error.code} />
      )}
      {a.decision === undefined || a.decision.reasons.length === 0 ? null : (
        <>
          <h4>Reasons</h4>
          <ul>
            {a.decision.reasons.map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        </>
      )}
      <p class="note">Dry run: nothing was released. The broker recorded it in the audit log.</p>
    </div>
  )
}
