// Sign in with an owner key: import the CLI's key file or generate one (and save both files).
// The key never leaves this page; the broker only ever sees signatures.
import { useState } from 'preact/hooks'
import { api } from '../api.ts'
import {
  type GeneratedOwnerKey,
  generateOwnerKey,
  importOwnerKey,
  type OwnerSession,
} from '../owner-key.ts'
import { ErrorBox, type Problem, problemOf, Short } from './ui.tsx'

function download(name: string, text: string): string {
  return `${URL.createObjectURL(new Blob([text], { type: 'application/jwk+json' }))}#${name}`
}

export function SignIn(props: {
  broker: string
  onSignedIn: (owner: OwnerSession, namespaces: string[]) => void
}) {
  const [busy, setBusy] = useState(false)
  const [problem, setProblem] = useState<Problem | undefined>()
  const [generated, setGenerated] = useState<GeneratedOwnerKey | undefined>()

  const signIn = async (owner: OwnerSession) => {
    setBusy(true)
    setProblem(undefined)
    try {
      const me = await api.whoami({ url: props.broker, owner })
      props.onSignedIn(owner, me.namespaces)
    } catch (error) {
      const p = problemOf(error)
      setProblem(
        p.code === 'ERR_ADMIN_PROOF'
          ? { ...p, message: `${p.message}. Is this key registered (broker start --owner)?` }
          : p,
      )
    } finally {
      setBusy(false)
    }
  }

  const onFile = async (event: Event) => {
    const input = event.currentTarget as HTMLInputElement
    const file = input.files?.[0]
    if (file === undefined) return
    try {
      const owner = await importOwnerKey(await file.text())
      input.value = ''
      await signIn(owner)
    } catch (error) {
      setProblem(problemOf(error))
    }
  }

  const onGenerate = async () => {
    setProblem(undefined)
    setGenerated(await generateOwnerKey())
  }

  return (
    <main class="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Subrosa custodian console</h1>
      <p>
        Broker: <code class="mono">{props.broker}</code>
      </p>
      <section aria-labelledby="import-title">
        <h2 id="import-title">Sign in with your owner key</h2>
        <p>
          Choose the private key file that <code>subrosa owner keygen</code> wrote (
          <code>owner.jwk</code>). It stays in this page's memory: requests are signed here and the
          key is never sent.
        </p>
        <label for="owner-key-file">Owner key file (JWK)</label>
        <input
          id="owner-key-file"
          type="file"
          accept=".jwk,.json,application/json"
          disabled={busy}
          onChange={(e) => void onFile(e)}
        />
        {busy ? (
          <p role="status" class="loading">
            Checking the key with the broker…
          </p>
        ) : null}
      </section>
      <section aria-labelledby="generate-title">
        <h2 id="generate-title">No key yet?</h2>
        <button type="button" onClick={() => void onGenerate()}>
          Generate a new owner key
        </button>
        {generated === undefined ? null : (
          <div class="generated" aria-live="polite">
            <p>
              New owner key <Short value={generated.session.id} />. Save both files, then register
              the public one with the broker (
              <code>subrosa broker start --owner owner.pub.jwk</code>) and sign in with the private
              one.
            </p>
            <p class="actions">
              <a href={download('owner.jwk', generated.privateFile)} download="owner.jwk">
                Save private key (owner.jwk)
              </a>
              <a href={download('owner.pub.jwk', generated.publicFile)} download="owner.pub.jwk">
                Save public key (owner.pub.jwk)
              </a>
              <button type="button" onClick={() => void signIn(generated.session)}>
                Sign in with this key
              </button>
            </p>
          </div>
        )}
      </section>
      {problem === undefined ? null : (
        <ErrorBox title="Sign-in failed" message={problem.message} code={problem.code} />
      )}
    </main>
  )
}
