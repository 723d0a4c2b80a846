import type { ComponentChildren } from 'preact'

export function ErrorBox(props: { title: string; message: string; code?: string | undefined }) {
  return (
    <div class="error" role="alert">
      <strong>{props.title}</strong>
      <p>
        {props.message}
        {props.code === undefined ? null : <code class="code"> {props.code}</code>}
      </p>
    </div>
  )
}

export function Loading(props: { what: string }) {
  return (
    <p role="status" class="loading">
      Loading {props.what}…
    </p>
  )
}

export function Section(props: { title: string; children: ComponentChildren; id?: string }) {
  return (
    <section aria-labelledby={props.id}>
      <h2 id={props.id}>{props.title}</h2>
      {props.children}
    </section>
  )
}

/** Shorten an owner id or hash for display; the full value is in the title attribute. */
export function Short(props: { value: string }) {
  const v = props.value
  const short = v.length > 28 ? `${v.slice(0, 14)}…${v.slice(-8)}` : v
  return (
    <code title={v} class="mono">
      {short}
    </code>
  )
}

/** A problem as the console shows it. */
export type Problem = { message: string; code?: string | undefined }

export function problemOf(error: unknown): Problem {
  const e = error as { message?: unknown; code?: unknown }
  return {
    message: typeof e.message === 'string' ? e.message : String(error),
    code: typeof e.code === 'string' ? e.code : undefined,
  }
}
