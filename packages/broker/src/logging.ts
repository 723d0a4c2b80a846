import type { LogEvent } from './context.ts'

/** What a redacted value is replaced by. */
export const REDACTED = '[redacted]'

/** Field names whose values are never logged (matched on the lower-cased, separator-free name). */
const SECRET_NAME =
  /secret|token|key|authori[sz]ation|cookie|passw(or)?d|passphrase|share|credential|private|seed|bearer|jwe|jwt/

/**
 * Names that merely contain one of those words but hold identifiers an operator needs. Matched
 * exactly on the lower-cased name.
 */
const ALLOWED_NAMES = new Set(['tokenid', 'keyid', 'secretsgenerated'])

/** A JWS/JWT (three base64url parts) or a JWE in compact form (five parts). */
const COMPACT_JOSE = /eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*){2,4}/g
/**
 * Long runs of hex (>= 32 digits: 16 bytes) or base64/base64url (>= 20 characters, about 15
 * bytes, mixing upper and lower case as random encodings do; UUIDs and paths do not).
 */
const LONG_HEX = /\b[0-9a-fA-F]{32,}\b/g
const LONG_BASE64 = /[A-Za-z0-9+/_-]{20,}={0,2}/g

/** Values longer than this are cut: logs carry identifiers and decisions, not documents. */
const MAX_VALUE_LENGTH = 512

/**
 * Mask what could be a secret in one log event: fields named like secrets, tokens, keys,
 * authorization, cookies, passwords or shares are replaced by {@link REDACTED}; in every other
 * string value, compact JWS/JWE and long hex or base64 runs are replaced too. Digests that must
 * stay readable (policy hashes) are logged only under names in the allow-list or not at all.
 *
 * @example
 * redactLogEvent({ event: 'x', authorization: 'Bearer eyJ...' }) // { event: 'x', authorization: '[redacted]' }
 */
export function redactLogEvent(event: LogEvent): LogEvent {
  const out: Record<string, string | number | boolean | undefined> = {}
  for (const [name, value] of Object.entries(event)) {
    if (value === undefined) continue
    if (isSecretName(name)) {
      out[name] = REDACTED
      continue
    }
    out[name] = typeof value === 'string' ? redactString(value) : value
  }
  return out
}

/** Mask compact JOSE objects and long hex/base64 runs inside a string. */
export function redactString(value: string): string {
  const cut = value.length > MAX_VALUE_LENGTH ? `${value.slice(0, MAX_VALUE_LENGTH)}…` : value
  return cut
    .replace(COMPACT_JOSE, REDACTED)
    .replace(LONG_HEX, REDACTED)
    .replace(LONG_BASE64, (run) => (looksLikeWords(run) ? run : REDACTED))
}

function isSecretName(name: string): boolean {
  const flat = name.toLowerCase().replace(/[-_.\s]/g, '')
  return !ALLOWED_NAMES.has(flat) && SECRET_NAME.test(flat)
}

/**
 * Random encodings mix upper and lower case; single-case runs (paths, UUIDs, codes) and
 * camelCase words are not encodings.
 */
function looksLikeWords(run: string): boolean {
  if (!/[A-Z]/.test(run) || !/[a-z]/.test(run)) return true
  return /^[a-z]+(?:[A-Z][a-z]+)+$/.test(run)
}

/**
 * The broker's one logger: each event is stamped with the time, redacted by
 * {@link redactLogEvent}, written as one JSON line through `write`, and handed (unredacted, so
 * that counters see outcomes; observers must not keep values) to `observe`.
 */
export function createLogger(options: {
  readonly write?: ((line: string) => void) | undefined
  readonly observe?: ((event: LogEvent) => void) | undefined
  readonly now?: () => Date
}): (event: LogEvent) => void {
  const now = options.now ?? (() => new Date())
  return (event) => {
    options.observe?.(event)
    if (options.write === undefined) return
    options.write(JSON.stringify({ at: now().toISOString(), ...redactLogEvent(event) }))
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/**
 * The request id for a request: the caller's `x-request-id` when it is a short token of safe
 * characters (so it cannot smuggle a secret or a log line into the log), else a fresh one.
 */
export function requestIdOf(header: unknown, fresh: () => string): string {
  return typeof header === 'string' && REQUEST_ID.test(header) && !isLongEncoding(header)
    ? header
    : fresh()
}

function isLongEncoding(value: string): boolean {
  return redactString(value) !== value
}
