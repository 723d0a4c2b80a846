// The clerk portal (healthcare example, ADR 0031): verify the service first, say in plain words
// what was verified, and only then let the clerk send a record, encrypted to the attested key.
// Every failed check disables Send and says why (role=alert).
import { useEffect, useState } from 'preact/hooks'
import type { PortalConfig } from '../app.tsx'
import {
  type BrokerPins,
  type ClerkConfig,
  loadBrokerPins,
  type RefusedService,
  sendRecord,
  type VerifiedService,
  verifyService,
} from '../clerk.ts'
import { generateOwnerKey, importOwnerKey, type OwnerSession } from '../owner-key.ts'
import { ServiceFactsList } from './clerk-facts.tsx'
import { type Diagnosis, RecordForm, type RecordInput } from './clerk-record.tsx'
import { ErrorBox, type Problem, problemOf, Short } from './ui.tsx'

type Check =
  | { readonly state: 'checking' }
  | { readonly state: 'done'; readonly result: VerifiedService | RefusedService; readonly at: Date }
  | { readonly state: 'failed'; readonly problem: Problem }

/** Plain-words reasons for each refused check (the code is shown beside). */
const REASONS: Record<RefusedService['check'], string> = {
  connect: 'The service cannot be reached.',
  expectation:
    'This portal is not configured with what the service must be (workload and measurement).',
  token: 'The service did not present a valid attestation token.',
  issuer: "The service's token was not issued by this portal's broker.",
  signature:
    "The service's token is not signed by a key the broker publishes: it was altered or forged.",
  expired: "The service's token has expired or is not yet valid.",
  workload: 'The service is attested as another workload than the one expected.',
  policy: 'The service was attested under another policy version than the pinned one.',
  sim: 'The service runs in a simulated TEE, which this portal does not accept.',
  status: "The broker's appraisal of the service's evidence is not affirming.",
  debug:
    "The service runs in a debug-mode TEE: the host can read its memory, so records aren't safe.",
  measurement: 'The service runs other code than expected (its measurement does not match).',
  signer: "The service's code is signed by another signer than expected.",
  tcb: "The service's platform is not up to date (TCB status not allowed).",
}

function Unconfigured() {
  return (
    <main>
      <h1>Subrosa clerk portal</h1>
      <ErrorBox
        title="No service configured"
        message="Start the portal with the service to send records to: subrosa portal --service <url> --service-workload <ns/policy/workload> --service-measurement <hex>."
      />
    </main>
  )
}

export function ClerkPortal(props: { config: PortalConfig }) {
  const clerk = props.config.clerk
  if (clerk === undefined) return <Unconfigured />
  return <ClerkView broker={props.config.broker} config={clerk} />
}

function ClerkView(props: { broker: string; config: ClerkConfig }) {
  const { config } = props
  const [pins, setPins] = useState<BrokerPins | undefined>()
  const [check, setCheck] = useState<Check>({ state: 'checking' })
  const [key, setKey] = useState<OwnerSession | undefined>()
  const [keyProblem, setKeyProblem] = useState<Problem | undefined>()
  const [sending, setSending] = useState(false)
  const [answer, setAnswer] = useState<Diagnosis | undefined>()
  const [sendProblem, setSendProblem] = useState<Problem | undefined>()

  const verify = async (): Promise<VerifiedService | undefined> => {
    setCheck({ state: 'checking' })
    try {
      const p = pins ?? (await loadBrokerPins(props.broker))
      setPins(p)
      const result = await verifyService(config, p, new Date())
      setCheck({ state: 'done', result, at: new Date() })
      return result.ok ? result : undefined
    } catch (error) {
      setCheck({ state: 'failed', problem: problemOf(error) })
      return undefined
    }
  }
  useEffect(() => {
    void verify()
  }, [])

  const onKeyFile = async (event: Event) => {
    const input = event.currentTarget as HTMLInputElement
    const file = input.files?.[0]
    if (file === undefined) return
    try {
      setKey(await importOwnerKey(await file.text(), 'clerk.jwk'))
      setKeyProblem(undefined)
      input.value = ''
    } catch (error) {
      setKeyProblem(problemOf(error))
    }
  }

  const onSend = async (record: RecordInput) => {
    if (key === undefined) return
    setSending(true)
    setAnswer(undefined)
    setSendProblem(undefined)
    try {
      // Verify again right before sending: the token may have expired or the service changed.
      const service = await verify()
      if (service === undefined) return
      setAnswer((await sendRecord(config, service, key, record)) as Diagnosis)
    } catch (error) {
      setSendProblem(problemOf(error))
    } finally {
      setSending(false)
    }
  }

  const verified = check.state === 'done' && check.result.ok
  const refusal = check.state === 'done' && !check.result.ok ? check.result : undefined
  const blocked =
    check.state === 'checking'
      ? 'Send is disabled while the service is being verified.'
      : !verified
        ? 'Send is disabled: the service failed verification (see above).'
        : key === undefined
          ? 'Send is disabled until you load your clerk key.'
          : undefined

  return (
    <main class="clerk" aria-labelledby="clerk-title">
      <h1 id="clerk-title">Subrosa clerk portal</h1>
      <p>
        Records go to <code class="mono">{config.service}</code> only after this page has verified
        the service's attestation against the broker <code class="mono">{props.broker}</code>.
      </p>

      <section aria-labelledby="service-title">
        <h2 id="service-title">1. The service</h2>
        {check.state === 'checking' ? (
          <p role="status" class="loading">
            Verifying the service's attestation…
          </p>
        ) : check.state === 'failed' ? (
          <ErrorBox
            title="The service could not be verified"
            message={check.problem.message}
            code={check.problem.code}
          />
        ) : check.result.ok ? (
          <div class="verified" role="status">
            <p class="indicator ok">Verified: safe to send records to this service.</p>
          </div>
        ) : null}
        {refusal === undefined ? null : (
          <ErrorBox
            title="Not sending: the service failed verification"
            message={`${REASONS[refusal.check]} Detail: ${refusal.message}.`}
            code={refusal.code}
          />
        )}
        {check.state === 'done' && check.result.facts !== undefined ? (
          <ServiceFactsList facts={check.result.facts} config={config} verified={verified} />
        ) : null}
        <button
          type="button"
          class="link"
          disabled={check.state === 'checking'}
          onClick={() => void verify()}
        >
          Verify again
        </button>
      </section>

      <section aria-labelledby="key-title">
        <h2 id="key-title">2. Your clerk key</h2>
        {key === undefined ? (
          <>
            <p>
              Choose your clerk key file (<code>clerk.jwk</code>). It stays in this page's memory;
              each record is signed with it and the key is never sent.
            </p>
            <label for="clerk-key-file">Clerk key file (JWK)</label>
            <input
              id="clerk-key-file"
              type="file"
              accept=".jwk,.json,application/json"
              onChange={(e) => void onKeyFile(e)}
            />
            <GenerateClerkKey onUse={setKey} />
          </>
        ) : (
          <p class="indicator ok">
            Signed in as clerk <Short value={key.id} />
          </p>
        )}
        {keyProblem === undefined ? null : (
          <ErrorBox title="The key was not loaded" message={keyProblem.message} />
        )}
      </section>

      <RecordForm blocked={blocked} sending={sending} onSend={(r) => void onSend(r)} />
      {answer === undefined ? null : (
        <section aria-labelledby="answer-title" class="result">
          <h2 id="answer-title">Diagnosis</h2>
          <p role="status" class={answer.diagnosis === 'benign' ? 'success' : 'warn-box'}>
            Record <code>{answer.recordId}</code>: <strong>{answer.diagnosis}</strong> (probability
            of malignancy {(answer.pMalignant * 100).toFixed(1)}%). Decrypted in this page with the
            reply key of this request.
          </p>
        </section>
      )}
      {sendProblem === undefined ? null : (
        <ErrorBox
          title="The record was not processed"
          message={sendProblem.message}
          code={sendProblem.code}
        />
      )}
    </main>
  )
}

function GenerateClerkKey(props: { onUse: (key: OwnerSession) => void }) {
  const [made, setMade] = useState<Awaited<ReturnType<typeof generateOwnerKey>> | undefined>()
  const link = (name: string, text: string) =>
    `${URL.createObjectURL(new Blob([text], { type: 'application/jwk+json' }))}#${name}`
  return (
    <p class="actions">
      <button type="button" onClick={() => void generateOwnerKey().then(setMade)}>
        Generate a new clerk key
      </button>
      {made === undefined ? null : (
        <span aria-live="polite">
          Give{' '}
          <a href={link('clerk.pub.jwk', made.publicFile)} download="clerk.pub.jwk">
            the public key (clerk.pub.jwk)
          </a>{' '}
          to the service's operator, save{' '}
          <a href={link('clerk.jwk', made.privateFile)} download="clerk.jwk">
            the private key (clerk.jwk)
          </a>
          , then{' '}
          <button type="button" onClick={() => props.onUse(made.session)}>
            use this key
          </button>
        </span>
      )}
    </p>
  )
}
