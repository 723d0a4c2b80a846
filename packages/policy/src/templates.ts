import { concatBytes, toBase64, toHex, utf8 } from '@subrosa/core'
import { PolicyError } from './errors.ts'

/** How a secret is written into an env value or a file. */
export type SecretEncoding = 'raw' | 'base64' | 'hex'

export type TemplatePart =
  | { readonly text: string }
  | { readonly secret: string; readonly encoding: SecretEncoding | undefined }

const REFERENCE = /\{\{(.*?)\}\}/g
const INNER = /^\s*secret:([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)(?::(raw|base64|hex))?\s*$/

/**
 * Split a template into literal text and `{{secret:NAME[:raw|base64|hex]}}` references.
 *
 * @example parseTemplate('k={{secret:s:hex}}') // [{ text: 'k=' }, { secret: 's', encoding: 'hex' }]
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
        `Unknown template reference {{${m[1]}}}; use {{secret:NAME}}`,
      )
    text(template.slice(last, m.index))
    parts.push({ secret: inner[1] as string, encoding: inner[2] as SecretEncoding | undefined })
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
 * Check a template for its target: raw secrets only as a whole file (env cannot carry arbitrary
 * bytes, and raw bytes inside text would be ambiguous). Returns a reason, or undefined when fine.
 *
 * @example templateProblem('{{secret:s:raw}}', 'env') // 'raw secrets cannot go into env values; …'
 */
export function templateProblem(template: string, target: 'env' | 'file'): string | undefined {
  let parts: TemplatePart[]
  try {
    parts = parseTemplate(template)
  } catch (e) {
    return (e as Error).message
  }
  for (const p of parts) {
    if (!('secret' in p)) continue
    const encoding = p.encoding ?? (target === 'file' ? 'raw' : 'base64')
    if (encoding === 'raw' && (target === 'env' || parts.length > 1)) {
      return target === 'env'
        ? 'raw secrets cannot go into env values; use :base64 or :hex'
        : 'a raw secret must be the whole file'
    }
  }
  return undefined
}

/**
 * Render a template with secret values. A template that is exactly one reference renders that
 * secret in its encoding (default: raw bytes in a file, base64 in env); text around references is
 * UTF-8 and references inside text must name `:base64` or `:hex`. The template is checked before
 * `lookup` is called.
 *
 * @example renderTemplate('{{secret:spark-auth}}', { lookup: (n) => secrets.get(n)!, target: 'file' })
 * @throws PolicyError `ERR_POLICY_TEMPLATE` for a malformed reference, raw bytes in env or inside
 * text. Errors of `lookup` propagate.
 */
export function renderTemplate(
  template: string,
  options: { readonly lookup: (name: string) => Uint8Array; readonly target: 'env' | 'file' },
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
    const value = options.lookup(p.secret)
    const encoding = p.encoding ?? (options.target === 'file' ? 'raw' : 'base64')
    out.push(encoding === 'raw' ? value : utf8(encoding === 'hex' ? toHex(value) : toBase64(value)))
  }
  return concatBytes(...out)
}
