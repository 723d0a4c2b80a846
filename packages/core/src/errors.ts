/** Non-secret, structured context attached to an error (a document path, a field name, a limit). */
export type ErrorDetails = Readonly<Record<string, string | number | boolean | readonly string[]>>

/**
 * Base of every Subrosa error. `code` is stable API (see docs/errors.md); messages say what
 * failed and why, and never contain secrets, tokens, key bytes or raw evidence.
 */
export class BaseError<Code extends string = string> extends Error {
  readonly code: Code
  readonly details: ErrorDetails | undefined

  constructor(
    code: Code,
    message: string,
    options: { cause?: unknown; details?: ErrorDetails } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = new.target.name
    this.code = code
    this.details = options.details
  }

  /** The shape errors take on the wire and in `--json` output. */
  toJSON(): { code: Code; message: string; details?: ErrorDetails } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details }
  }
}

/** True when `error` is a Subrosa error (of any package). */
export function isSubrosaError(error: unknown): error is BaseError {
  return error instanceof BaseError
}

/** Codes of `core`, each with the one-line meaning published in docs/errors.md. */
export const CORE_ERRORS = {
  ERR_CORE_CANONICAL_JSON: 'A value cannot be serialized as RFC 8785 canonical JSON.',
  ERR_CORE_ENCODING: 'Text is not valid hex, base64 or UTF-8 where it must be.',
} as const

export type CoreErrorCode = keyof typeof CORE_ERRORS

export class CoreError extends BaseError<CoreErrorCode> {}
