// The app shell: reads the portal's config (the broker URL, served beside the app), then shows
// one of the registered views. The custodian console is the first; the clerk portal (issue #9,
// point 3) will be a second entry in VIEWS with its own route.
import { useEffect, useState } from 'preact/hooks'
import { CustodianConsole } from './views/console.tsx'
import { ErrorBox } from './views/ui.tsx'

/** What `subrosa portal` serves as ./config.json. */
export type PortalConfig = { readonly broker: string }

type View = {
  readonly route: string
  readonly title: string
  readonly render: (config: PortalConfig) => preact.JSX.Element
}

export const VIEWS: readonly View[] = [
  { route: 'console', title: 'Custodian console', render: (c) => <CustodianConsole config={c} /> },
]

async function loadConfig(): Promise<PortalConfig> {
  const res = await fetch('./config.json', { cache: 'no-store', credentials: 'omit' })
  if (!res.ok) throw new Error(`config.json answered ${res.status}`)
  const value = (await res.json()) as { broker?: unknown }
  if (typeof value.broker !== 'string' || !value.broker.startsWith('https://'))
    throw new Error('config.json names no https:// broker URL')
  return { broker: value.broker.replace(/\/+$/, '') }
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
