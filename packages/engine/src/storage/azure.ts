// Azure Blob Storage / ADLS Gen2 as an ObjectStore. Objects are block blobs holding ciphertext
// only; downloads stream into the TEE's scratch dir, uploads stream from it in blocks. Errors
// carry the HTTP status and Azure error code, never the service's text, the request URL (which
// holds a SAS token) or the SDK error itself.
import { createWriteStream } from 'node:fs'
import { rm, stat } from 'node:fs/promises'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import {
  AnonymousCredential,
  BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
  StorageSharedKeyCredential,
} from '@azure/storage-blob'
import { EngineError } from '../errors.ts'
import { type AzureCredentials, azureAuthFor } from './azure-credentials.ts'
import { type AzureLocation, parseAzureLocation } from './azure-location.ts'
import type { CopyProgress, ObjectStore } from './object-store.ts'

/** Tuning of an Azure store; the defaults suit scratch dirs in TEE memory. */
export type AzureTransferOptions = {
  /** Block size of uploads in bytes (default 8 MiB; raised when a file needs > 50,000 blocks). */
  readonly blockSize?: number
  /** Files up to this size go in one request (default 8 MiB, at most 256 MiB). */
  readonly singleShotSize?: number
  /** Blocks in flight at once per upload (default 4): memory stays within blocks x this. */
  readonly concurrency?: number
  /** Attempts per request, retries with exponential back-off (default 4). */
  readonly maxTries?: number
  /** First retry delay in ms (default 500). */
  readonly retryDelayMs?: number
}

/** An Azure store: the account its locations must belong to. */
export type AzureStoreOptions = AzureTransferOptions & {
  /** Any location in the account, a container at least; see `parseAzureLocation` for the forms. */
  readonly url: string
  readonly credentials: AzureCredentials
}

const MIB = 1024 * 1024
const MAX_BLOCKS = 50_000
const AZURE_CODE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/

type HttpFailure = {
  statusCode?: unknown
  code?: unknown
  syscall?: unknown
  details?: { errorCode?: unknown }
}

/** The HTTP status and Azure error code (`BlobNotFound`, `AuthorizationFailure`) of an error. */
function failure(cause: unknown): { status: number | undefined; code: string | undefined } {
  const f = (typeof cause === 'object' && cause !== null ? cause : {}) as HttpFailure
  const status = typeof f.statusCode === 'number' ? f.statusCode : undefined
  const candidate = typeof f.details?.errorCode === 'string' ? f.details.errorCode : f.code
  const code = typeof candidate === 'string' && AZURE_CODE.test(candidate) ? candidate : undefined
  return { status, code }
}

function storageError(what: string, location: string, cause: unknown): EngineError {
  const { status, code } = failure(cause)
  const details = {
    location,
    ...(status === undefined ? {} : { status }),
    ...(code === undefined ? {} : { reason: code }),
  }
  const answer =
    status === undefined ? (code ?? 'no answer') : `HTTP ${status}${code ? ` ${code}` : ''}`
  if (status === 401 || status === 403)
    return new EngineError(
      'ERR_ENGINE_STORAGE_AUTH',
      `Azure Storage refused the request to ${what} ${location} (${answer}): check the credentials and their permissions`,
      { details },
    )
  // Local file-system errors are safe to chain; SDK errors hold request URLs, so they are not.
  const local = typeof (cause as HttpFailure | undefined)?.syscall === 'string'
  return new EngineError('ERR_ENGINE_STORAGE', `Cannot ${what} ${location} (${answer})`, {
    details,
    ...(local ? { cause } : {}),
  })
}

function counter(onProgress: CopyProgress | undefined): Transform {
  let bytes = 0
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length
      onProgress?.(bytes)
      callback(null, chunk)
    },
  })
}

/**
 * Azure Blob Storage (or ADLS Gen2, through its blob endpoint) as an ObjectStore for one storage
 * account. Locations are URLs in any form `parseAzureLocation` accepts; containers must exist
 * (they are provisioned with their access policy, not created by jobs).
 *
 * - `download` streams a blob into a local file (mode 0600), checking its length;
 * - `upload` sends a local file as a block blob: one request up to `singleShotSize`, else
 *   `blockSize` blocks, `concurrency` at a time, committed at once (readers see old or new);
 * - `putIfAbsent` is a conditional create (`If-None-Match: *`).
 *
 * @example
 * const store = createAzureStore({ url: 'https://acme.blob.core.windows.net/lake', credentials })
 * await store.upload('/run/scratch/out.parquet', 'https://acme.blob.core.windows.net/lake/out.parquet')
 * @throws EngineError `ERR_ENGINE_UNSUPPORTED` for a URL that is no Azure location;
 *   `ERR_ENGINE_STORAGE_AUTH` when the credentials are malformed or for another account. Its
 *   methods throw `ERR_ENGINE_STORAGE` (and `ERR_ENGINE_STORAGE_AUTH` on HTTP 401/403,
 *   `ERR_ENGINE_CONFLICT` from putIfAbsent).
 */
export function createAzureStore(options: AzureStoreOptions): ObjectStore {
  const root = parseAzureLocation(options.url)
  const auth = azureAuthFor(options.credentials, root.account)
  const pipelineOptions = {
    retryOptions: {
      maxTries: options.maxTries ?? 4,
      retryDelayInMs: options.retryDelayMs ?? 500,
      maxRetryDelayInMs: 30_000,
    },
  }
  const service =
    auth.kind === 'shared-key'
      ? new BlobServiceClient(
          root.serviceUrl,
          new StorageSharedKeyCredential(auth.accountName, auth.accountKey),
          pipelineOptions,
        )
      : new BlobServiceClient(`${root.serviceUrl}?${auth.sasToken}`, new AnonymousCredential(), {
          ...pipelineOptions,
        })
  const blockSize = options.blockSize ?? 8 * MIB
  const singleShotSize = Math.min(options.singleShotSize ?? 8 * MIB, 256 * MIB)
  const concurrency = options.concurrency ?? 4

  function locate(location: string): AzureLocation {
    const at = parseAzureLocation(location)
    if (at.serviceUrl !== root.serviceUrl)
      throw new EngineError(
        'ERR_ENGINE_STORAGE',
        `${at.location} is not in the storage account of this store (${root.serviceUrl})`,
      )
    return at
  }
  function container(at: AzureLocation): ContainerClient {
    return service.getContainerClient(at.container)
  }
  function blob(location: string): { at: AzureLocation; client: BlockBlobClient } {
    const at = locate(location)
    if (at.path === '')
      throw new EngineError('ERR_ENGINE_STORAGE', `${at.location} names a container, not an object`)
    return { at, client: container(at).getBlockBlobClient(at.path) }
  }

  return {
    kind: 'azure',
    async stat(location) {
      const { at, client } = blob(location)
      try {
        const props = await client.getProperties()
        // ADLS Gen2 directories show through the blob API as empty blobs marked hdi_isfolder.
        if (props.metadata?.hdi_isfolder === 'true') return undefined
        return { size: props.contentLength ?? 0 }
      } catch (cause) {
        if (failure(cause).status === 404) return undefined
        throw storageError('stat', at.location, cause)
      }
    },
    async list(prefix) {
      const at = locate(prefix)
      const from = at.path === '' ? '' : `${at.path}/`
      const names: string[] = []
      try {
        const items = container(at).listBlobsFlat({ prefix: from, includeMetadata: true })
        for await (const item of items) {
          if (item.metadata?.hdi_isfolder === 'true') continue
          names.push(item.name.slice(from.length))
        }
      } catch (cause) {
        if (failure(cause).code === 'ContainerNotFound') return []
        throw storageError('list', at.location, cause)
      }
      return names.sort()
    },
    async readBytes(location) {
      const { at, client } = blob(location)
      try {
        return new Uint8Array(await client.downloadToBuffer(0, undefined, { concurrency }))
      } catch (cause) {
        throw storageError('read', at.location, cause)
      }
    },
    async download(location, localPath, onProgress) {
      const { at, client } = blob(location)
      let expected: number | undefined
      try {
        const response = await client.download(0, undefined, { maxRetryRequests: 5 })
        expected = response.contentLength
        const body = response.readableStreamBody
        if (body === undefined) throw new Error('no response body')
        await pipeline(body, counter(onProgress), createWriteStream(localPath, { mode: 0o600 }))
      } catch (cause) {
        await rm(localPath, { force: true })
        throw storageError('read', at.location, cause)
      }
      const size = (await stat(localPath)).size
      if (expected !== undefined && size !== expected) {
        await rm(localPath, { force: true })
        throw new EngineError(
          'ERR_ENGINE_STORAGE',
          `Cannot read ${at.location}: got ${size} of ${expected} bytes`,
        )
      }
      return size
    },
    async upload(localPath, location, onProgress) {
      const { at, client } = blob(location)
      try {
        const size = (await stat(localPath)).size
        await client.uploadFile(localPath, {
          blockSize: Math.max(blockSize, Math.ceil(size / MAX_BLOCKS)),
          maxSingleShotSize: singleShotSize,
          concurrency,
          blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
          ...(onProgress === undefined ? {} : { onProgress: (p) => onProgress(p.loadedBytes) }),
        })
        return size
      } catch (cause) {
        throw storageError('write', at.location, cause)
      }
    },
    async putIfAbsent(location, bytes) {
      const { at, client } = blob(location)
      try {
        await client.upload(bytes, bytes.byteLength, {
          conditions: { ifNoneMatch: '*' },
          blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
        })
      } catch (cause) {
        const { status } = failure(cause)
        if (status === 409 || status === 412)
          throw new EngineError('ERR_ENGINE_CONFLICT', `${at.location} already exists`)
        throw storageError('write', at.location, cause)
      }
    },
    async delete(location) {
      const { at, client } = blob(location)
      try {
        await client.delete({ deleteSnapshots: 'include' })
      } catch (cause) {
        if (failure(cause).status === 404) return
        throw storageError('delete', at.location, cause)
      }
    },
  }
}
