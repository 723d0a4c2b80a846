// The patient-record form of the clerk portal. Send stays disabled, with the reason next to it,
// until the service is verified and a clerk key is loaded.
import { useState } from 'preact/hooks'
import { ErrorBox } from './ui.tsx'

/** The 30 WDBC measurements the diagnostics model takes. */
export const FEATURE_COUNT = 30

export type RecordInput = {
  readonly recordId: string
  readonly patient: { readonly name: string; readonly birthDate: string }
  readonly features: number[]
}

/** The healthcare API's answer (examples/healthcare/record.ts). */
export type Diagnosis = {
  readonly recordId: string
  readonly diagnosis: 'malignant' | 'benign'
  readonly pMalignant: number
}

function parseFeatures(text: string): number[] | string {
  const parts = text.split(/[\s,]+/).filter((p) => p !== '')
  const values = parts.map(Number)
  if (values.length !== FEATURE_COUNT || !values.every(Number.isFinite))
    return `Enter exactly ${FEATURE_COUNT} numbers separated by commas or spaces (got ${values.length}).`
  return values
}

export function RecordForm(props: {
  blocked: string | undefined
  sending: boolean
  onSend: (record: RecordInput) => void
}) {
  const [invalid, setInvalid] = useState<string | undefined>()
  const onSubmit = (event: Event) => {
    event.preventDefault()
    if (props.blocked !== undefined || props.sending) return
    const data = new FormData(event.currentTarget as HTMLFormElement)
    const features = parseFeatures(String(data.get('features') ?? ''))
    if (typeof features === 'string') {
      setInvalid(features)
      return
    }
    setInvalid(undefined)
    props.onSend({
      recordId: String(data.get('recordId') ?? ''),
      patient: {
        name: String(data.get('name') ?? ''),
        birthDate: String(data.get('birthDate') ?? ''),
      },
      features,
    })
  }
  const disabled = props.blocked !== undefined || props.sending
  return (
    <section aria-labelledby="record-title">
      <h2 id="record-title">3. Patient record</h2>
      <form class="record" onSubmit={onSubmit}>
        <label for="record-id">Record id</label>
        <input id="record-id" name="recordId" required pattern="[A-Za-z0-9._\-]{1,64}" />
        <label for="patient-name">Patient name</label>
        <input id="patient-name" name="name" required maxLength={200} autoComplete="off" />
        <label for="birth-date">Birth date</label>
        <input id="birth-date" name="birthDate" type="date" required />
        <label for="features">Measurements ({FEATURE_COUNT} numbers, comma-separated)</label>
        <textarea id="features" name="features" rows={4} required />
        <p class="actions">
          <button type="submit" disabled={disabled} aria-describedby="send-note">
            {props.sending ? 'Sending…' : 'Send encrypted record'}
          </button>
        </p>
        <p id="send-note" class="note">
          {props.sending
            ? 'Verifying the service again, encrypting and sending…'
            : (props.blocked ?? 'The record is encrypted in this page before it is sent.')}
        </p>
      </form>
      {invalid === undefined ? null : (
        <ErrorBox title="The record is incomplete" message={invalid} />
      )}
    </section>
  )
}
