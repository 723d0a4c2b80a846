// The custodian console: signed-in header with the live audit-chain indicator, and tabs for
// policies, dry runs, keys and secrets, the audit log and attestation decisions.
import type { JWK } from 'jose'
import { useCallback, useEffect, useRef, useState } from 'preact/hooks'
import { api, type Broker, BrokerApiError } from '../api.ts'
import type { PortalConfig } from '../app.tsx'
import { type AuditReport, verifyAuditExport } from '../audit-chain.ts'
import type { OwnerSession } from '../owner-key.ts'
import { AttestationsView } from './attestations.tsx'
import { AuditIndicator, AuditView } from './audit.tsx'
import { DryRunView } from './dry-run.tsx'
import { KeysView } from './keys.tsx'
import { PoliciesView } from './policies.tsx'
import { SignIn } from './sign-in.tsx'
import { type Problem, problemOf, Short } from './ui.tsx'

const TABS = [
  { id: 'policies', label: 'Policies' },
  { id: 'dry-run', label: 'Dry run' },
  { id: 'keys', label: 'Keys & secrets' },
  { id: 'audit', label: 'Audit log' },
  { id: 'attestations', label: 'Attestations' },
] as const
type TabId = (typeof TABS)[number]['id']

/** How often the audit chain is fetched and verified again. */
const AUDIT_REFRESH_MS = 4000

/** The audit export, verified in the browser, refreshed while the console is open. */
export type AuditState = {
  readonly report?: AuditReport | undefined
  readonly problem?: Problem | undefined
  readonly refresh: () => Promise<void>
}

function useAudit(broker: Broker | undefined): AuditState {
  const [report, setReport] = useState<AuditReport | undefined>()
  const [problem, setProblem] = useState<Problem | undefined>()
  const jwks = useRef<{ keys: JWK[] } | undefined>(undefined)
  const refresh = useCallback(async () => {
    if (broker === undefined) return
    try {
      jwks.current ??= (await api.jwks(broker)) as { keys: JWK[] }
      setReport(await verifyAuditExport(await api.auditExport(broker), jwks.current))
      setProblem(undefined)
    } catch (error) {
      // A broker whose log no longer verifies refuses to sign a checkpoint and names the entry.
      const seq = error instanceof BrokerApiError ? error.details.seq : undefined
      if (
        error instanceof BrokerApiError &&
        error.code === 'ERR_BROKER_AUDIT' &&
        typeof seq === 'number'
      ) {
        const reason = 'the broker finds the stored log altered and refuses to sign it'
        setReport((last) => ({ entries: last?.entries ?? [], status: { ok: false, seq, reason } }))
        setProblem(undefined)
      } else setProblem(problemOf(error))
    }
  }, [broker])
  useEffect(() => {
    void refresh()
    const timer = setInterval(() => void refresh(), AUDIT_REFRESH_MS)
    return () => clearInterval(timer)
  }, [refresh])
  return { report, problem, refresh }
}

export function CustodianConsole(props: { config: PortalConfig }) {
  const [session, setSession] = useState<{ owner: OwnerSession; namespaces: string[] }>()
  const broker = session && { url: props.config.broker, owner: session.owner }
  const brokerMemo = useMemoBroker(broker)
  const audit = useAudit(brokerMemo)
  const [tab, setTab] = useState<TabId>('policies')
  const tabRefs = useRef<(HTMLButtonElement | null)[]>([])

  if (session === undefined || brokerMemo === undefined)
    return (
      <SignIn
        broker={props.config.broker}
        onSignedIn={(owner, namespaces) => setSession({ owner, namespaces })}
      />
    )

  const onTabKey = (event: KeyboardEvent, index: number) => {
    const step = event.key === 'ArrowRight' ? 1 : event.key === 'ArrowLeft' ? -1 : 0
    if (step === 0) return
    event.preventDefault()
    const next = (index + step + TABS.length) % TABS.length
    setTab((TABS[next] as (typeof TABS)[number]).id)
    tabRefs.current[next]?.focus()
  }

  // Namespaces the broker named at sign-in, plus any the owner has since claimed (the verified
  // log shows the data of the owner's namespaces only).
  const namespaces = [
    ...new Set([
      ...session.namespaces,
      ...(audit.report?.entries ?? []).flatMap((e) =>
        e.namespace !== null && e.data !== undefined ? [e.namespace] : [],
      ),
    ]),
  ].sort()

  const panel = {
    policies: <PoliciesView broker={brokerMemo} namespaces={namespaces} audit={audit} />,
    'dry-run': <DryRunView broker={brokerMemo} namespaces={namespaces} audit={audit} />,
    keys: <KeysView broker={brokerMemo} namespaces={namespaces} audit={audit} />,
    audit: <AuditView audit={audit} />,
    attestations: <AttestationsView audit={audit} />,
  }[tab]

  return (
    <div class="console">
      <header>
        <h1>Subrosa custodian console</h1>
        <p class="who">
          Owner <Short value={session.owner.id} /> · namespaces{' '}
          {namespaces.length === 0 ? 'none yet' : namespaces.join(', ')} · broker{' '}
          <code class="mono">{props.config.broker}</code>
        </p>
        <AuditIndicator audit={audit} />
        <button type="button" class="link" onClick={() => setSession(undefined)}>
          Sign out
        </button>
      </header>
      <div role="tablist" aria-label="Console sections">
        {TABS.map((t, i) => (
          <button
            type="button"
            role="tab"
            id={`tab-${t.id}`}
            key={t.id}
            ref={(el) => {
              tabRefs.current[i] = el
            }}
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            onClick={() => setTab(t.id)}
            onKeyDown={(e) => onTabKey(e, i)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <main role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {panel}
      </main>
    </div>
  )
}

/** Keep one Broker object per signed-in owner, so effects keyed on it do not re-run. */
function useMemoBroker(broker: Broker | undefined): Broker | undefined {
  const ref = useRef<Broker | undefined>(undefined)
  if (ref.current?.owner !== broker?.owner || ref.current?.url !== broker?.url) ref.current = broker
  return ref.current
}
