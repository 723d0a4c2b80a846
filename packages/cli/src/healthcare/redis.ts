// A TLS-only redis-server for the healthcare chain: no plain port, client certificates required,
// nothing on disk; its server certificate and a client certificate for redis-cli come from the
// broker CA. Used by `subrosa demo healthcare`, its end-to-end test and the bench.
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { type CaMaterial, issueServerCertificate, issueWorkloadCertificate } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import { CliError } from '../errors.ts'

/** A running redis-server and a redis-cli that reaches it over mutual TLS. */
export type TlsRedis = {
  readonly host: string
  readonly port: number
  /** redis-cli over TLS with an operator client certificate; stdout as bytes. */
  cli(args: readonly string[]): Promise<Buffer>
  close(): Promise<void>
}

/** Whether redis-server and redis-cli are installed. */
export function redisInstalled(): boolean {
  return (
    spawnSync('redis-server', ['--version']).error === undefined &&
    spawnSync('redis-cli', ['--version']).error === undefined
  )
}

/**
 * Start redis-server on a free loopback port, TLS only, certificates from `ca`.
 *
 * @throws CliError `ERR_CLI_MISSING_TOOL` when redis-server or redis-cli is not installed.
 */
export async function startTlsRedis(ca: CaMaterial, dir: string): Promise<TlsRedis> {
  if (!redisInstalled())
    throw new CliError(
      'ERR_CLI_MISSING_TOOL',
      'redis-server and redis-cli are required (apt-get install redis-server)',
    )
  const now = new Date()
  const server = await issueServerCertificate(ca, ['127.0.0.1'], now, systemRandom(16))
  const operator = await issueWorkloadCertificate(
    ca,
    {
      key: { type: 'ec', curve: 'P-256' },
      uri: 'spiffe://health.example/operator/redis-cli',
      dns: [],
      days: 1,
      commonName: 'redis-cli',
    },
    now,
    systemRandom(16),
  )
  const files = {
    ca: join(dir, 'redis-ca.pem'),
    cert: join(dir, 'redis-server.pem'),
    key: join(dir, 'redis-server.key'),
    cliCert: join(dir, 'redis-cli.pem'),
    cliKey: join(dir, 'redis-cli.key'),
  }
  await writeFile(files.ca, ca.certPem)
  await writeFile(files.cert, server.certPem)
  await writeFile(files.key, server.keyPem, { mode: 0o600 })
  await writeFile(files.cliCert, operator.certPem)
  await writeFile(files.cliKey, operator.privatePem, { mode: 0o600 })
  const port = await freePort()
  const redis: ChildProcess = spawn(
    'redis-server',
    [
      ...['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1'],
      ...['--tls-cert-file', files.cert, '--tls-key-file', files.key],
      ...['--tls-ca-cert-file', files.ca, '--tls-auth-clients', 'yes'],
      ...['--save', '', '--appendonly', 'no', '--dir', dir],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  await new Promise<void>((resolve, reject) => {
    let log = ''
    redis.stdout?.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes('Ready to accept connections')) resolve()
    })
    redis.once('exit', (code) =>
      reject(new CliError('ERR_CLI_MISSING_TOOL', `redis-server exited (${code}) at start`)),
    )
  })
  return {
    host: '127.0.0.1',
    port,
    cli: (args) =>
      new Promise((resolve, reject) => {
        execFile(
          'redis-cli',
          [
            ...['--tls', '--cacert', files.ca, '--cert', files.cliCert, '--key', files.cliKey],
            ...['-h', '127.0.0.1', '-p', String(port), ...args],
          ],
          { encoding: 'buffer', maxBuffer: 64 << 20 },
          (error, stdout) => (error === null ? resolve(stdout) : reject(error)),
        )
      }),
    close: async () => {
      if (redis.exitCode !== null) return
      const exited = new Promise((resolve) => redis.once('exit', resolve))
      redis.kill()
      await exited
    },
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}
