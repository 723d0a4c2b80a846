// Parse a policy draft exactly as the broker and the CLI do (@subrosa/policy's parsePolicy:
// validation, normalization, defaults) and hash its canonical JSON (@subrosa/core) with
// WebCrypto: the same `sha384:<hex>` as `policyHash`, which approvals sign.
import { canonicalJson, isSubrosaError } from '@subrosa/core'
import { type Policy, parsePolicy } from '@subrosa/policy'
import { digest, toHex, utf8 } from './bytes.ts'

/** A parsed draft, or the problems that make it invalid. */
export type Draft =
  | { readonly ok: true; readonly policy: Policy; readonly hash: string }
  | { readonly ok: false; readonly code: string; readonly problems: readonly string[] }

/** `sha384:<96 hex>` over the canonical JSON of a normalized policy. */
export async function policyHash(policy: Policy): Promise<string> {
  return `sha384:${toHex(await digest('SHA-384', utf8(canonicalJson(policy))))}`
}

/** Parse and hash a YAML draft. */
export async function parseDraft(yaml: string): Promise<Draft> {
  try {
    const policy = parsePolicy(yaml)
    return { ok: true, policy, hash: await policyHash(policy) }
  } catch (error) {
    if (!isSubrosaError(error)) throw error
    const errors = error.details?.errors
    const problems = Array.isArray(errors) ? errors.map(String) : [error.message]
    return { ok: false, code: error.code, problems }
  }
}

/** Set `metadata.predecessor` in a YAML draft (a line of its own, as policies are written). */
export function withPredecessor(yaml: string, hash: string | null): string {
  const value = hash === null ? 'null' : `"${hash}"`
  const line = /^(\s+predecessor:\s*).*$/m
  if (line.test(yaml)) return yaml.replace(line, `$1${value}`)
  return yaml.replace(/^metadata:\s*$/m, `metadata:\n  predecessor: ${value}`)
}
