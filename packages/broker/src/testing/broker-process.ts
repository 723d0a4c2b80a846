// Test support: a broker in its own process, for tests that kill it (crash safety). Started as
// `node --conditions=source --import tsx broker-process.ts` with its settings as JSON in the
// environment variable SUBROSA_TEST_BROKER; prints one JSON line `{"url"}` when it serves.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { fromBase64 } from '@subrosa/core'
import type { JWK } from 'jose'
import { startBroker } from '../start.ts'

/** Settings of a broker process. The unseal key travels base64 in the environment: tests only. */
export type BrokerProcessSettings = {
  readonly dataDir: string
  readonly postgres?: string | undefined
  readonly unsealKey: string
  readonly publicUrl: string
  readonly simTrustedKeys: readonly JWK[]
  readonly owners: readonly JWK[]
}

/** A running broker process. */
export type BrokerProcess = {
  readonly url: string
  readonly pid: number
  /** Resolves with the signal or code the process ended with. */
  readonly exited: Promise<string>
  kill(signal: NodeJS.Signals): void
}

const HERE = fileURLToPath(import.meta.url)
const ROOT = fileURLToPath(new URL('../../../..', import.meta.url))

/**
 * Start a broker process and wait until it serves. `nodeArgs` go to node before the script
 * (the bench passes `--cpu-prof` and its directory).
 */
export function spawnBrokerProcess(
  settings: BrokerProcessSettings,
  nodeArgs: readonly string[] = [],
): Promise<BrokerProcess> {
  return new Promise((resolve, reject) => {
    const args = [...nodeArgs, '--conditions=source', '--import', 'tsx', HERE]
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, SUBROSA_TEST_BROKER: JSON.stringify(settings) },
    })
    const exited = new Promise<string>((done) =>
      child.on('exit', (code, signal) => done(signal ?? String(code))),
    )
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.startsWith('{"url"'))
      if (line !== undefined) {
        const { url } = JSON.parse(line) as { url: string }
        resolve({
          url,
          pid: child.pid ?? 0,
          exited,
          kill: (signal) => child.kill(signal),
        })
      }
    })
    void exited.then((how) =>
      reject(new Error(`broker process ended (${how}): ${err.slice(-800)}`)),
    )
  })
}

async function main(settings: BrokerProcessSettings): Promise<void> {
  const unsealKey = fromBase64(settings.unsealKey)
  if (unsealKey === undefined) throw new Error('SUBROSA_TEST_BROKER.unsealKey is not base64')
  const broker = await startBroker({
    dataDir: settings.dataDir,
    postgres: settings.postgres,
    unsealKey,
    publicUrl: settings.publicUrl,
    allowSim: true,
    simTrustedKeys: settings.simTrustedKeys,
    owners: settings.owners,
    port: 0,
  })
  process.stdout.write(`${JSON.stringify({ url: broker.url })}\n`)
  process.once('SIGTERM', () => {
    void broker.close().then(() => process.exit(0))
  })
}

if (process.argv[1] === HERE) {
  const raw = process.env.SUBROSA_TEST_BROKER
  if (raw === undefined) {
    process.stderr.write('SUBROSA_TEST_BROKER is not set\n')
    process.exit(2)
  }
  main(JSON.parse(raw) as BrokerProcessSettings).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : error}\n`)
    process.exit(1)
  })
}
