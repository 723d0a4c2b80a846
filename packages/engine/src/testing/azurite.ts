// Test harness: Azurite (Microsoft's Azure Storage emulator, a devDependency) on a free loopback
// port with a temporary data dir, telemetry off. Tests that need it skip when it is absent.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1'
/** The well-known key of {@link AZURITE_ACCOUNT}; not a secret. */
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

/** A running Azurite blob service. */
export type Azurite = {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  readonly serviceUrl: string
  readonly connectionString: string
  /** Create a container (idempotent) and return its location URL. */
  container(name: string): Promise<string>
  /** Stop the process (by its own pid) and remove its data dir. */
  stop(): Promise<void>
}

function azuriteMain(): string | undefined {
  try {
    const pkg = createRequire(import.meta.url).resolve('azurite/package.json')
    return join(dirname(pkg), 'dist', 'src', 'blob', 'main.js')
  } catch {
    return undefined
  }
}

/** A skip message when Azurite is not installed, else `false` (for `describe(…, { skip })`). */
export function azuriteSkip(): string | false {
  return azuriteMain() === undefined ? 'azurite is not installed (npm ci installs it)' : false
}

async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((done) => child.once('exit', () => done()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(timer)
}

/**
 * Start Azurite's blob service on 127.0.0.1 (port chosen by the OS) and wait until it listens.
 *
 * @example
 * const azurite = await startAzurite()
 * const lake = await azurite.container('lake') // http://127.0.0.1:<port>/devstoreaccount1/lake
 * await azurite.stop()
 * @throws Error when Azurite is not installed or does not start within 30 s.
 */
export async function startAzurite(): Promise<Azurite> {
  const main = azuriteMain()
  if (main === undefined) throw new Error('azurite is not installed')
  const dir = await mkdtemp(join(tmpdir(), 'subrosa-azurite-'))
  const child = spawn(
    process.execPath,
    [
      main,
      ...['--blobHost', '127.0.0.1', '--blobPort', '0', '--location', dir],
      ...['--silent', '--skipApiVersionCheck', '--disableTelemetry'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  const port = await new Promise<string>((done, fail) => {
    const timer = setTimeout(
      () => fail(new Error(`azurite did not start in 30 s: ${output}`)),
      30_000,
    )
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      const m = /successfully listens on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)
      if (m !== null) {
        clearTimeout(timer)
        done(m[1] as string)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', (code) => {
      clearTimeout(timer)
      fail(new Error(`azurite exited (${code}) before listening: ${output}`))
    })
  }).catch(async (error: unknown) => {
    await stopProcess(child)
    await rm(dir, { recursive: true, force: true })
    throw error
  })
  const serviceUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`
  const service = new BlobServiceClient(
    serviceUrl,
    new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
  )
  return {
    serviceUrl,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${serviceUrl};`,
    async container(name) {
      await service.getContainerClient(name).createIfNotExists()
      return `${serviceUrl}/${name}`
    },
    async stop() {
      await stopProcess(child)
      await rm(dir, { recursive: true, force: true })
    },
  }
}
