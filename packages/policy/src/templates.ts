import { concatBytes, toBase64, toHex, utf8 } from '@subrosa/core'
import { PolicyError } from './errors.ts'

/** How a secret is written into an env value, an argument or a file. */
export type SecretEncoding = 'raw' | 'base64' | 'hex' | 'text'

/** Where a rendered template goes: env and args cannot carry NUL or arbitrary bytes. */
export type TemplateTarget = 'env' | 'arg' | 'file'

/**
 * A textual (PEM) part of a key pair or certificate secret: `private` (PKCS#8), `public` (SPKI),
 * `cert` (the X.509 leaf) and `ca` (the issuing CA chain).
 */
export const SECRET_PARTS = ['private', 'public', 'cert', 'ca'] as const
export type SecretPart = (typeof SECRET_PARTS)[number]

export type TemplatePart =
  | { readonly text: string }
  | {
      readonly secret: string
      readonly part?: SecretPart | undefined
      readonly encoding: SecretEncoding | undefined
    }

const REFERENCE = /\{\{(.*?)\}\}/g
const INNER =
  /^\s*secret:([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)(?:\.(private|public|cert|ca))?(?::(raw|base64|hex|text))?\s*$/

/**
 * Split a template into literal text and `{{secret:NAME[.PART][:raw|base64|hex|text]}}`
 * references. PART (`private`, `public`, `cert`, `ca`) selects a PEM part of a key pair or
 * certificate secret; `:text` writes a value verbatim where it is NUL-free UTF-8 (checked when
 * rendering), e.g. an imported token that a program reads from env.
 *
 * @example parseTemplate('k={{secret:s:hex}}') // [{ text: 'k=' }, { secret: 's', encoding: 'hex' }]
 * @example parseTemplate('{{secret:tls.cert}}') // [{ secret: 'tls', part: 'cert', encoding: undefined }]
 * @throws PolicyError `ERR_POLICY_TEMPLATE` for any other `{{...}}` or an unterminated `{{`.
 */
export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = []
  const text = (t: string): void => {
    if (t.includes('{{'))
      throw new PolicyError(
        'ERR_POLICY_TEMPLATE',
        'Unterminated template reference: {{ without a closing }} on the same line',
      )
    if (t !== '') parts.push({ text: t })
  }
  let last = 0
  for (const m of template.matchAll(REFERENCE)) {
    const inner = INNER.exec(m[1] ?? '')
    if (inner === null)
      throw new PolicyError(
        'ERR_POLICY_TEMPLATE',
        `Unknown template reference {{${m[1]}}}; use {{secret:NAME}} or {{secret:NAME.PART}}`,
      )
    text(template.slice(last, m.index))
    const part = inner[2] as SecretPart | undefined
    const encoding = inner[3] as SecretEncoding | undefined
    parts.push(
      part === undefined
        ? { secret: inner[1] as string, encoding }
        : { secret: inner[1] as string, part, encoding },
    )
    last = m.index + m[0].length
  }
  text(template.slice(last))
  return parts
}

/**
 * Names of the secrets a template references, once each, in order of appearance.
 *
 * @example templateSecretNames('a={{secret:x:hex}} b={{secret:y}}') // ['x', 'y']
 * @throws PolicyError `ERR_POLICY_TEMPLATE` for a malformed template.
 */
export function templateSecretNames(template: string): string[] {
  return [...new Set(parseTemplate(template).flatMap((p) => ('secret' in p ? [p.secret] : [])))]
}

/**
 * Check a template for its target: raw binary secrets only as a whole file (env and args cannot
 * carry arbitrary bytes, and raw bytes inside text would be ambiguous). PEM parts are text and
 * may go anywhere. Returns a reason, or undefined when fine.
 *
 * @example templateProblem('{{secret:s:raw}}', 'env') // 'raw secrets cannot go into env values; …'
 */
export function templateProblem(template: string, target: TemplateTarget): string | undefined {
  let parts: TemplatePart[]
  try {
    parts = parseTemplate(template)
  } catch (e) {
    return (e as Error).message
  }
  for (const p of parts) {
    if (!('secret' in p) || p.part !== undefined) continue
    const encoding = p.encoding ?? defaultEncoding(p, target)
    if (encoding === 'raw' && (target !== 'file' || parts.length > 1)) {
      if (target === 'env') return 'raw secrets cannot go into env values; use :base64 or :hex'
      if (target === 'arg') return 'raw secrets cannot go into arguments; use :base64 or :hex'
      return 'a raw secret must be the whole file'
    }
  }
  return undefined
}

/**
 * Render a template with secret values. A template that is exactly one reference renders that
 * secret in its encoding (default: raw bytes in a file, base64 in env and args); text around
 * references is UTF-8 and binary references inside text must name `:base64` or `:hex`. PEM parts
 * (`.private`, `.public`, `.cert`, `.ca`) render as PEM text by default, anywhere. The template
 * is checked before `lookup` is called.
 *
 * @example renderTemplate('{{secret:spark-auth}}', { lookup: (n) => secrets.get(n)!, target: 'file' })
 * @throws PolicyError `ERR_POLICY_TEMPLATE` for a malformed reference, raw bytes in env or inside
 * text. Errors of `lookup` propagate.
 */
export function renderTemplate(
  template: string,
  options: {
    /** The value of a secret, or of one PEM part of it (UTF-8). */
    readonly lookup: (name: string, part: SecretPart | undefined) => Uint8Array
    readonly target: TemplateTarget
  },
): Uint8Array {
  const problem = templateProblem(template, options.target)
  if (problem !== undefined)
    throw new PolicyError('ERR_POLICY_TEMPLATE', `Cannot render template: ${problem}`)
  const out: Uint8Array[] = []
  for (const p of parseTemplate(template)) {
    if (!('secret' in p)) {
      out.push(utf8(p.text))
      continue
    }
    const value = options.lookup(p.secret, p.part)
    const encoding = p.encoding ?? defaultEncoding(p, options.target)
    if (encoding === 'text' && !isText(value))
      throw new PolicyError(
        'ERR_POLICY_TEMPLATE',
        `Cannot render {{secret:${p.secret}:text}}: the value is not UTF-8 text without NUL`,
      )
    out.push(
      encoding === 'raw' || encoding === 'text'
        ? value
        : utf8(encoding === 'hex' ? toHex(value) : toBase64(value)),
    )
  }
  return concatBytes(...out)
}

function defaultEncoding(
  p: { readonly part?: SecretPart | undefined },
  target: TemplateTarget,
): SecretEncoding {
  return p.part !== undefined || target === 'file' ? 'raw' : 'base64'
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true })

function isText(value: Uint8Array): boolean {
  if (value.includes(0)) return false
  try {
    STRICT_UTF8.decode(value)
    return true
  } catch {
    return false
  }
}
