// The app shell: reads the portal's config (the broker URL and, for the clerk portal, the
// service and what it must be; served beside the app), then shows one of the registered views:
// the custodian console (`#/console`, the default) or the clerk portal (`#/clerk`, ADR 0031).
import { useEffect, useState } from 'preact/hooks'
import type { ClerkConfig } from './clerk.ts'
import { ClerkPortal } from './views/clerk.tsx'
import { CustodianConsole } from './views/console.tsx'
import { ErrorBox } from './views/ui.tsx'

/** What `subrosa portal` serves as ./config.json. */
export type PortalConfig = { readonly broker: string; readonly clerk?: ClerkConfig }

type View = {
  readonly route: string
  readonly title: string
  readonly render: (config: PortalConfig) => preact.JSX.Element
}

export const VIEWS: readonly View[] = [
  { route: 'console', title: 'Custodian console', render: (c) => <CustodianConsole config={c} /> },
  { route: 'clerk', title: 'Clerk portal', render: (c) => <ClerkPortal config={c} /> },
]

async function loadConfig(): Promise<PortalConfig> {
  const res = await fetch('./config.json', { cache: 'no-store', credentials: 'omit' })
  if (!res.ok) throw new Error(`config.json answered ${res.status}`)
  const value = (await res.json()) as { broker?: unknown; clerk?: unknown }
  if (typeof value.broker !== 'string' || !value.broker.startsWith('https://'))
    throw new Error('config.json names no https:// broker URL')
  const broker = value.broker.replace(/\/+$/, '')
  return value.clerk === undefined ? { broker } : { broker, clerk: clerkConfigOf(value.clerk) }
}

const strings = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string')

function clerkConfigOf(value: unknown): ClerkConfig {
  const c = (value ?? {}) as Record<string, unknown>
  const { service, audience, workload, measurement, signer, tcbStatuses, allowSim } = c
  if (
    typeof service !== 'string' ||
    !service.startsWith('https://') ||
    typeof audience !== 'string' ||
    typeof workload !== 'string' ||
    !/^[^/]+\/[^/]+\/[^/]+$/.test(workload) ||
    !strings(measurement) ||
    !strings(signer) ||
    (tcbStatuses !== undefined && !strings(tcbStatuses)) ||
    typeof allowSim !== 'boolean'
  )
    throw new Error('config.json has an invalid clerk section (service, workload, measurement)')
  return {
    service: service.replace(/\/+$/, ''),
    audience,
    workload,
    measurement,
    signer,
    ...(tcbStatuses === undefined ? {} : { tcbStatuses }),
    allowSim,
  }
}

function routeOf(hash: string): string {
  return hash.replace(/^#\/?/, '').split('/')[0] || 'console'
}

export function App() {
  const [config, setConfig] = useState<PortalConfig | undefined>()
  const [error, setError] = useState<string | undefined>()
  const [route, setRoute] = useState(routeOf(location.hash))
  useEffect(() => {
    loadConfig().then(setConfig, (e: Error) => setError(e.message))
    const onHash = () => setRoute(routeOf(location.hash))
    addEventListener('hashchange', onHash)
    return () => removeEventListener('hashchange', onHash)
  }, [])
  if (error !== undefined) return <ErrorBox title="The portal cannot start" message={error} />
  if (config === undefined) return <p role="status">Loading…</p>
  const view = VIEWS.find((v) => v.route === route) ?? (VIEWS[0] as View)
  return view.render(config)
}
