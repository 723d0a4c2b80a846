// Azure Blob Storage / ADLS Gen2 locations. A job may name data by any of the URL forms users
// meet in Azure tooling; every form maps to one canonical blob-endpoint URL, which is what an
// Azure ObjectStore takes and what joinLocation extends. Credentials never travel in a location.
import { EngineError } from '../errors.ts'

/** A parsed Azure Blob location. */
export type AzureLocation = {
  /** Storage account name (3-24 lowercase letters and digits). */
  readonly account: string
  /**
   * Blob service URL, no trailing slash: `https://<account>.blob.core.windows.net`, or for
   * Azurite on loopback `http://127.0.0.1:<port>/<account>`.
   */
  readonly serviceUrl: string
  /** Container (ADLS Gen2: file system) name. */
  readonly container: string
  /** Blob name or prefix in the container, `/`-separated, no leading or trailing `/`; may be ''. */
  readonly path: string
  /** The canonical location: `<serviceUrl>/<container>[/<path, percent-encoded>]`. */
  readonly location: string
}

const ACCOUNT = /^[a-z0-9]{3,24}$/
// 3-63 characters: lowercase letters, digits and single hyphens, starting and ending alphanumeric.
const CONTAINER = /^(?:\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/
const CLOUDS = '(core\\.windows\\.net|core\\.chinacloudapi\\.cn|core\\.usgovcloudapi\\.net)'
const PUBLIC_HOST = new RegExp(`^([a-z0-9]{3,24})\\.(blob|dfs)\\.${CLOUDS}$`)
const MAX_BLOB_NAME = 1024

/** The URL schemes whose locations are Azure Storage (or refused as insecure Azure forms). */
export const AZURE_SCHEMES: readonly string[] = ['https', 'http', 'abfss', 'wasbs', 'abfs', 'wasb']

/**
 * A location as it may appear in a message: no query string (SAS tokens), fragment or password,
 * at most 300 characters.
 *
 * @example
 * redactLocation('https://acct.blob.core.windows.net/c/x?sv=2024&sig=abc') // '…/c/x?<redacted>'
 */
export function redactLocation(uri: string): string {
  const cut = uri.search(/[?#]/)
  let out = cut === -1 ? uri : `${uri.slice(0, cut)}?<redacted>`
  out = out.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/i, '$1:<redacted>@')
  return out.length > 300 ? `${out.slice(0, 300)}…` : out
}

function unsupported(uri: string, why: string): EngineError {
  return new EngineError('ERR_ENGINE_UNSUPPORTED', `Cannot use ${redactLocation(uri)}: ${why}`)
}

function isLoopback(hostname: string): boolean {
  return (
    hostname === 'localhost' ||
    hostname === '[::1]' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)
  )
}

function segments(uri: string, pathname: string): string[] {
  const parts = pathname.split('/').slice(1)
  if (parts.at(-1) === '') parts.pop()
  return parts.map((part) => {
    if (part === '') throw unsupported(uri, 'the path has an empty segment (//)')
    try {
      return decodeURIComponent(part)
    } catch {
      throw unsupported(uri, 'the path has a malformed percent-encoding')
    }
  })
}

function build(uri: string, serviceUrl: string, account: string, parts: string[]): AzureLocation {
  const [container, ...rest] = parts
  if (container === undefined || container === '')
    throw unsupported(uri, 'it names no container (expected <container>/<path> after the account)')
  if (!CONTAINER.test(container))
    throw unsupported(uri, `"${container}" is not a valid container name`)
  const path = rest.join('/')
  if (path.length > MAX_BLOB_NAME) throw unsupported(uri, 'the blob name exceeds 1024 characters')
  const encoded = rest.map(encodeURIComponent).join('/')
  const location = `${serviceUrl}/${container}${encoded === '' ? '' : `/${encoded}`}`
  return { account, serviceUrl, container, path, location }
}

/**
 * Parse an Azure Blob Storage / ADLS Gen2 location into its account, container and blob path.
 *
 * Accepted forms:
 * - `https://<account>.blob.core.windows.net/<container>/<path>` (also `.dfs.`, and the China
 *   and US Government clouds' suffixes);
 * - `abfss://<container>@<account>.dfs.core.windows.net/<path>` (ADLS Gen2) and
 *   `wasbs://<container>@<account>.blob.core.windows.net/<path>`, both mapped to the blob endpoint;
 * - path-style `http(s)://<loopback host>:<port>/<account>/<container>/<path>` (Azurite), only
 *   for `127.x.x.x`, `[::1]` and `localhost`.
 *
 * Refused: query strings and fragments (a SAS token belongs in the credentials, never in a job),
 * plain `abfs://`/`wasb://` and `http://` to anything but loopback.
 *
 * @example
 * parseAzureLocation('abfss://lake@acme.dfs.core.windows.net/trips/2024.parquet').location
 * // 'https://acme.blob.core.windows.net/lake/trips/2024.parquet'
 * @throws EngineError `ERR_ENGINE_UNSUPPORTED` for any other form or an invalid name.
 */
export function parseAzureLocation(uri: string): AzureLocation {
  let url: URL
  try {
    url = new URL(uri)
  } catch {
    throw unsupported(uri, 'it is not a URL')
  }
  if (url.search !== '' || url.hash !== '' || uri.includes('?') || uri.includes('#'))
    throw unsupported(uri, 'query strings are refused (a SAS token belongs in the credentials)')
  if (url.password !== '') throw unsupported(uri, 'a password in the URL is refused')
  const scheme = url.protocol.slice(0, -1).toLowerCase()
  const host = url.hostname.toLowerCase()
  if (scheme === 'abfss' || scheme === 'wasbs') {
    const match = PUBLIC_HOST.exec(host)
    const endpoint = scheme === 'abfss' ? 'dfs' : 'blob'
    if (match === null || match[2] !== endpoint || url.port !== '' || url.username === '')
      throw unsupported(
        uri,
        `expected ${scheme}://<container>@<account>.${endpoint}.core.windows.net`,
      )
    const account = match[1] as string
    return build(uri, `https://${account}.blob.${match[3]}`, account, [
      ...segments(uri, `/${url.username}`),
      ...segments(uri, url.pathname),
    ])
  }
  if (scheme === 'abfs' || scheme === 'wasb')
    throw unsupported(uri, `${scheme}:// is unencrypted; use ${scheme}s://`)
  if (scheme !== 'https' && scheme !== 'http')
    throw unsupported(uri, `no storage is configured for ${scheme}:// locations`)
  if (url.username !== '') throw unsupported(uri, 'a user name in an https URL is refused')
  const match = PUBLIC_HOST.exec(host)
  if (match !== null && scheme === 'https' && url.port === '') {
    const account = match[1] as string
    return build(uri, `https://${account}.blob.${match[3]}`, account, segments(uri, url.pathname))
  }
  if (isLoopback(host)) {
    const [account, ...rest] = segments(uri, url.pathname)
    if (account === undefined || !ACCOUNT.test(account))
      throw unsupported(uri, 'expected http://<loopback>:<port>/<account>/<container>/<path>')
    return build(uri, `${scheme}://${url.host}/${account}`, account, rest)
  }
  if (scheme === 'http')
    throw unsupported(uri, 'plain http is refused except on loopback (Azurite)')
  throw unsupported(uri, 'not an Azure Blob Storage or ADLS Gen2 endpoint')
}
