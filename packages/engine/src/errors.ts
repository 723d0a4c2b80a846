import { BaseError } from '@subrosa/core'

/** Codes of `engine`, each with the one-line meaning published in docs/errors.md. */
export const ENGINE_ERRORS = {
  ERR_ENGINE_INPUT: 'A job input cannot be opened or read.',
  ERR_ENGINE_KEY_MISMATCH: 'An input is encrypted under another master key than the job names.',
  ERR_ENGINE_QUERY:
    'DuckDB rejected or failed the query (only structural messages are shown; data values never are).',
  ERR_ENGINE_MEMORY:
    'The job needs more memory than its limit; spilling is refused because spill files must be encrypted.',
  ERR_ENGINE_UNSUPPORTED:
    'The job asks for something this engine does not do (an engine, format or location kind).',
  ERR_ENGINE_OUTPUT: 'A job output cannot be written.',
  ERR_ENGINE_PARAMETER:
    'A run-time parameter is not declared by the job, or its value is not of the declared type.',
  ERR_ENGINE_STORAGE: 'A storage location cannot be read, listed or written.',
  ERR_ENGINE_STORAGE_AUTH:
    'Storage refused the credentials (HTTP 401/403), or none are configured for the storage account.',
  ERR_ENGINE_CONFLICT:
    'Another writer got there first (a Delta commit with this version exists, or the table a create-mode output would make); nothing was overwritten.',
  ERR_ENGINE_DELTA_LOG:
    'A Delta table log is malformed or incomplete (a bad action line, a missing commit, no protocol or metadata).',
  ERR_ENGINE_DELTA_UNSUPPORTED:
    'A Delta table needs a protocol version, table feature or type this engine does not read or write.',
  ERR_ENGINE_DELTA_SCHEMA:
    "An append does not match the Delta table's schema or partition columns, or a type has no Delta equivalent.",
} as const

export type EngineErrorCode = keyof typeof ENGINE_ERRORS

export class EngineError extends BaseError<EngineErrorCode> {}
