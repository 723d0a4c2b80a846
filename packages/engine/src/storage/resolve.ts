// From a job's URI to the store that holds it: local paths and file: URLs go to the local file
// system, Azure Blob / ADLS Gen2 URLs to one Azure store per storage account.
import { EngineError } from '../errors.ts'
import { type AzureTransferOptions, createAzureStore } from './azure.ts'
import type { AzureCredentials } from './azure-credentials.ts'
import { AZURE_SCHEMES, parseAzureLocation } from './azure-location.ts'
import { createLocalStore, isUrl, localPath, type ObjectStore } from './object-store.ts'

/** The store and the store's location for a job URI. */
export type StoreResolver = (uri: string) => {
  readonly store: ObjectStore
  readonly location: string
}

/** Where relative paths start and how to reach Azure. */
export type StoreResolverOptions = {
  /** Directory relative paths resolve against (the job file's directory). */
  readonly baseDir: string
  /** Credentials for Azure locations (from the host; see `azureCredentialsFromEnv`). */
  readonly azure?: AzureCredentials
  /** Transfer tuning of the Azure stores. */
  readonly azureTransfer?: AzureTransferOptions
}

/**
 * A resolver of job URIs: a path (relative to `baseDir`) or `file:` URL gives the local store and
 * an absolute path; an Azure URL (`https://<account>.blob.core.windows.net/…`,
 * `abfss://<container>@<account>.dfs.core.windows.net/…`, or Azurite's path style on loopback)
 * gives that account's store (made once, then reused) and the canonical blob URL.
 *
 * @example
 * const resolve = createStoreResolver({ baseDir: dirname(jobFile), azure: { connectionString } })
 * const { store, location } = resolve('abfss://lake@acme.dfs.core.windows.net/trips')
 * @throws EngineError `ERR_ENGINE_UNSUPPORTED` for other schemes (`s3://`, `gs://`, …) or a
 *   malformed Azure URL; `ERR_ENGINE_STORAGE_AUTH` for an Azure URL when no credentials are
 *   configured or they are for another account.
 */
export function createStoreResolver(options: StoreResolverOptions): StoreResolver {
  const local = createLocalStore()
  const azure = new Map<string, ObjectStore>()
  return (uri) => {
    if (!isUrl(uri) || uri.startsWith('file:'))
      return { store: local, location: localPath(uri, options.baseDir) }
    const scheme = uri.slice(0, uri.indexOf(':')).toLowerCase()
    if (!AZURE_SCHEMES.includes(scheme))
      throw new EngineError(
        'ERR_ENGINE_UNSUPPORTED',
        `No storage is configured for ${scheme}:// locations (local paths, file: URLs and Azure Blob / ADLS Gen2 URLs are)`,
      )
    const at = parseAzureLocation(uri)
    let store = azure.get(at.serviceUrl)
    if (store === undefined) {
      if (options.azure === undefined)
        throw new EngineError(
          'ERR_ENGINE_STORAGE_AUTH',
          `No Azure Storage credentials are configured (needed for account ${at.account})`,
        )
      store = createAzureStore({
        ...options.azureTransfer,
        url: at.location,
        credentials: options.azure,
      })
      azure.set(at.serviceUrl, store)
    }
    return { store, location: at.location }
  }
}
