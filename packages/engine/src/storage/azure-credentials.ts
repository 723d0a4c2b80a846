// Credentials for Azure Storage, supplied by the host (the CLI reads the environment; the engine
// never does). They stay in memory, go only into the Azure SDK's request signing, and never into
// a message, a summary or a file.
import { EngineError } from '../errors.ts'

/**
 * How to authenticate to Azure Storage: a connection string (with `AccountName` + `AccountKey`,
 * or `SharedAccessSignature`), an account name and shared key, or a SAS token (optionally bound
 * to one account; without `accountName` it is offered to every account a job names).
 */
export type AzureCredentials =
  | { readonly connectionString: string }
  | { readonly accountName: string; readonly accountKey: string }
  | { readonly sasToken: string; readonly accountName?: string }

/** Credentials resolved for one account: a shared key or a SAS query string (no leading `?`). */
export type AzureAccountAuth =
  | { readonly kind: 'shared-key'; readonly accountName: string; readonly accountKey: string }
  | { readonly kind: 'sas'; readonly sasToken: string }

function authError(message: string): EngineError {
  return new EngineError('ERR_ENGINE_STORAGE_AUTH', message)
}

function parseConnectionString(text: string): Map<string, string> {
  const fields = new Map<string, string>()
  for (const part of text.split(';')) {
    const at = part.indexOf('=')
    if (part.trim() === '') continue
    if (at <= 0) throw authError('The Azure Storage connection string is malformed')
    fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim())
  }
  return fields
}

function sas(token: string): string {
  const query = token.startsWith('?') ? token.slice(1) : token
  if (!/^[^\s?#]+=[^\s?#]*(&[^\s?#]+=[^\s?#]*)*$/.test(query) || !/(^|&)sig=/.test(query))
    throw authError('The Azure Storage SAS token is malformed (expected sv=…&sig=…)')
  return query
}

/**
 * The credentials to use for `account`.
 *
 * @example
 * azureAuthFor({ accountName: 'acme', accountKey: key }, 'acme') // { kind: 'shared-key', … }
 * @throws EngineError `ERR_ENGINE_STORAGE_AUTH` when the credentials are malformed or name
 *   another account (the message names accounts, never secrets).
 */
export function azureAuthFor(credentials: AzureCredentials, account: string): AzureAccountAuth {
  let name: string | undefined
  let key: string | undefined
  let token: string | undefined
  if ('connectionString' in credentials) {
    const fields = parseConnectionString(credentials.connectionString)
    name = fields.get('accountname')
    key = fields.get('accountkey')
    token = fields.get('sharedaccesssignature')
    if (key !== undefined && name === undefined)
      throw authError('The Azure Storage connection string has an AccountKey but no AccountName')
    if (key === undefined && token === undefined)
      throw authError(
        'The Azure Storage connection string has neither AccountName+AccountKey nor SharedAccessSignature',
      )
  } else if ('accountKey' in credentials) {
    name = credentials.accountName
    key = credentials.accountKey
  } else {
    name = credentials.accountName
    token = credentials.sasToken
  }
  if (name !== undefined && name !== account)
    throw authError(
      `No Azure Storage credentials are configured for account ${account} (they are for ${name})`,
    )
  if (key !== undefined && name !== undefined) {
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(key))
      throw authError(`The Azure Storage account key for ${name} is not base64`)
    return { kind: 'shared-key', accountName: name, accountKey: key }
  }
  return { kind: 'sas', sasToken: sas(token ?? '') }
}

/**
 * Azure credentials from environment variables, for hosts (the CLI) to pass in; the engine itself
 * never reads the environment. In order of precedence: `AZURE_STORAGE_CONNECTION_STRING`;
 * `AZURE_STORAGE_ACCOUNT` + `AZURE_STORAGE_KEY`; `AZURE_STORAGE_SAS_TOKEN` (bound to
 * `AZURE_STORAGE_ACCOUNT` when that is set). These are the names the Azure CLI uses.
 *
 * @example
 * const azure = azureCredentialsFromEnv(process.env) // undefined when none is set
 * @throws EngineError `ERR_ENGINE_STORAGE_AUTH` when `AZURE_STORAGE_KEY` is set without
 *   `AZURE_STORAGE_ACCOUNT`.
 */
export function azureCredentialsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): AzureCredentials | undefined {
  const value = (name: string) => {
    const v = env[name]?.trim()
    return v === undefined || v === '' ? undefined : v
  }
  const connectionString = value('AZURE_STORAGE_CONNECTION_STRING')
  if (connectionString !== undefined) return { connectionString }
  const accountName = value('AZURE_STORAGE_ACCOUNT')
  const accountKey = value('AZURE_STORAGE_KEY')
  if (accountKey !== undefined) {
    if (accountName === undefined)
      throw authError('AZURE_STORAGE_KEY is set without AZURE_STORAGE_ACCOUNT')
    return { accountName, accountKey }
  }
  const sasToken = value('AZURE_STORAGE_SAS_TOKEN')
  if (sasToken === undefined) return undefined
  return accountName === undefined ? { sasToken } : { sasToken, accountName }
}
