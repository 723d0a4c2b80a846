import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { createLogger, parseRateLimit, startBroker } from '@subrosa/broker'
import { fromBase64, systemRandom, toBase64 } from '@subrosa/core'
import type { JWK } from 'jose'
import { type Command, listOption, stringOption } from '../command.ts'
import { readJson, writePrivateFile } from '../config.ts'
import { CliError } from '../errors.ts'
import { untilStopSignal } from '../signals.ts'
import { brokerVerification, VERIFICATION_OPTIONS } from '../verification.ts'
import { RECOVERY_OPTIONS, recoveryOptions, reportRecoveryShares } from './broker-recover.ts'
import {
  publishSelfAttestationKey,
  SELF_ATTESTATION_OPTIONS,
  selfAttestationOption,
} from './broker-verify.ts'

async function unsealKey(
  file: string,
  initialize: boolean,
  err: (t: string) => void,
): Promise<Uint8Array> {
  if (!existsSync(file)) {
    if (!initialize) throw new CliError('ERR_CLI_FILE', `Unseal key file ${file} is missing`)
    const key = systemRandom(32)
    await writePrivateFile(file, `${toBase64(key)}\n`)
    err(
      `Created unseal key ${file} (0600). Keep it outside the data directory, and offline: it unseals the broker.\n`,
    )
    return key
  }
  const key = fromBase64((await readFile(file, 'utf8')).trim())
  if (key === undefined || key.length !== 32)
    throw new CliError('ERR_CLI_FILE', `${file} must hold 32 bytes in base64`)
  return key
}

/** `subrosa broker start` */
export const brokerStart: Command = {
  path: ['broker', 'start'],
  summary: 'Start the key broker over HTTPS (initializing its data directory on first start).',
  usage: '[options]',
  description:
    'State lives in PGlite under --data-dir, or in PostgreSQL with --postgres (replicas with the same unseal\n' +
    'key, database and --public-url serve any request); its root key is sealed by the unseal key file.\n' +
    'The CA certificate is written to <data-dir>/ca.pem for clients to pin, and the URL to\n' +
    '<data-dir>/broker.json. Logs are JSON lines on stdout, without secrets, tokens or bodies.\n' +
    'Stop with Ctrl-C.\n' +
    'Hardware evidence (SGX, TDX, SEV-SNP) needs collateral: files (--collateral, looked up first), then\n' +
    '--pccs / --kds when given (cached under <data-dir>/collateral-cache). Tokens need --token-issuer.\n' +
    'Operations: GET /healthz, /readyz, /metrics (Prometheus), /openapi.json. On SIGTERM/SIGINT the broker\n' +
    'drains (/readyz 503), waits --drain-delay, stops accepting, lets in-flight requests finish within\n' +
    '--shutdown-timeout, closes the store and exits 0; a second signal stops at once. Rate limits are\n' +
    'per replica, in memory.',
  json: false,
  options: {
    'data-dir': {
      type: 'string',
      value: 'dir',
      description: 'Data directory',
      default: '.subrosa',
    },
    postgres: {
      type: 'string',
      value: 'url',
      description:
        'Keep state in PostgreSQL (postgres://user@host:5432/db) instead of PGlite (env SUBROSA_POSTGRES)',
    },
    'postgres-pool': {
      type: 'string',
      value: 'n',
      description:
        'PostgreSQL connections per replica for requests; KBS sessions use up to half as many more',
      default: '4',
    },
    'unseal-key-file': {
      type: 'string',
      value: 'file',
      description:
        'Unseal key (base64, 32 bytes); created on first start if absent (default: <data-dir>.unseal.key)',
    },
    host: { type: 'string', description: 'Address to listen on', default: '127.0.0.1' },
    port: { type: 'string', description: 'Port (0 = any free port)', default: '8443' },
    'public-url': {
      type: 'string',
      value: 'url',
      description: 'URL clients use and tokens name as issuer (default: https://<host>:<port>)',
    },
    'allow-sim': {
      type: 'boolean',
      description: 'Accept the INSECURE sim TEE (policies must accept it too)',
    },
    'sim-trust': {
      type: 'string',
      value: 'jwk-file',
      multiple: true,
      description: 'Trust this sim platform public key',
    },
    'signed-policies-only': {
      type: 'boolean',
      description:
        "Refuse policy changes that do not carry their owners' approvals (subrosa policy sign)",
    },
    owner: {
      type: 'string',
      value: 'jwk-file',
      multiple: true,
      description: 'Register this owner public key',
    },
    'cors-origin': {
      type: 'string',
      value: 'origin',
      multiple: true,
      description: 'Let this browser origin call the API (the portal, e.g. http://127.0.0.1:8080)',
    },
    'token-ttl': {
      type: 'string',
      value: 'seconds',
      description: 'Lifetime of attestation tokens',
      default: '1800',
    },
    'rate-limit': {
      type: 'string',
      value: 'n/s',
      description:
        'Requests per client IP: <n>/s or <n>/min, optionally ",burst=<n>" (health and metrics exempt)',
      default: 'off',
    },
    'owner-rate-limit': {
      type: 'string',
      value: 'n/s',
      description: 'Admin and owner KMS calls per authenticated owner, same syntax',
      default: 'off',
    },
    'admin-client-ca': {
      type: 'string',
      value: 'pem-file',
      description: '/admin/* also requires a TLS client certificate issued by this CA',
    },
    'drain-delay': {
      type: 'string',
      value: 'seconds',
      description: 'On SIGTERM, answer /readyz 503 this long before closing the listener',
      default: '0',
    },
    'shutdown-timeout': {
      type: 'string',
      value: 'seconds',
      description: 'On SIGTERM, how long in-flight requests may take before connections are cut',
      default: '10',
    },
    ...VERIFICATION_OPTIONS,
    ...RECOVERY_OPTIONS,
    ...SELF_ATTESTATION_OPTIONS,
  },
  async run(inv) {
    const { cwd, env } = inv.io
    const dataDir = resolve(cwd, stringOption(inv, 'data-dir') ?? '.subrosa')
    const keyFile = resolve(
      cwd,
      stringOption(inv, 'unseal-key-file') ??
        env.SUBROSA_UNSEAL_KEY_FILE ??
        `${dataDir}.unseal.key`,
    )
    // Bad operational and verification settings fail before anything is created.
    const drainDelay = Number(stringOption(inv, 'drain-delay'))
    const shutdownTimeout = Number(stringOption(inv, 'shutdown-timeout'))
    if (!(drainDelay >= 0 && drainDelay <= 3600))
      throw new CliError('ERR_CLI_USAGE', '--drain-delay must be 0..3600 seconds')
    if (!(shutdownTimeout >= 0 && shutdownTimeout <= 3600))
      throw new CliError('ERR_CLI_USAGE', '--shutdown-timeout must be 0..3600 seconds')
    const rateLimit = parseRateLimit(stringOption(inv, 'rate-limit') ?? 'off')
    const ownerRateLimit = parseRateLimit(stringOption(inv, 'owner-rate-limit') ?? 'off')
    const adminCa = stringOption(inv, 'admin-client-ca')
    const adminClientCaPem =
      adminCa === undefined
        ? undefined
        : await readFile(resolve(cwd, adminCa), 'utf8').catch(() => {
            throw new CliError('ERR_CLI_FILE', `Cannot read ${adminCa}`)
          })
    if (adminClientCaPem !== undefined && !adminClientCaPem.includes('BEGIN CERTIFICATE'))
      throw new CliError('ERR_CLI_FILE', `${adminCa} holds no PEM certificate`)
    const verification = await brokerVerification(inv, resolve(dataDir, 'collateral-cache'))
    const protection = await recoveryOptions(inv)
    const selfAttestation = await selfAttestationOption(inv)
    const postgres = stringOption(inv, 'postgres') ?? env.SUBROSA_POSTGRES
    // With PostgreSQL the database may already be initialized: a new key then fails to unseal it.
    const key = await unsealKey(
      keyFile,
      postgres !== undefined || !existsSync(resolve(dataDir, 'pgdata')),
      inv.io.err,
    )
    const jwks = async (names: string[]) =>
      Promise.all(names.map(async (f) => (await readJson(resolve(cwd, f), 'a public JWK')) as JWK))
    const port = Number(stringOption(inv, 'port'))
    const ttl = Number(stringOption(inv, 'token-ttl'))
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new CliError('ERR_CLI_USAGE', '--port must be 0..65535')
    if (!Number.isInteger(ttl) || ttl < 30)
      throw new CliError('ERR_CLI_USAGE', '--token-ttl must be an integer >= 30')
    const pool = Number(stringOption(inv, 'postgres-pool'))
    if (!Number.isInteger(pool) || pool < 1 || pool > 100)
      throw new CliError('ERR_CLI_USAGE', '--postgres-pool must be an integer 1..100')
    const publicUrl = stringOption(inv, 'public-url')
    // Listen for the stop signals before the broker announces itself, so none is missed.
    // The first signal drains; with both handlers gone, a second one stops at once.
    const stopped = untilStopSignal()
    const broker = await startBroker({
      dataDir,
      ...(postgres === undefined ? {} : { postgres, postgresPool: pool }),
      unsealKey: key,
      host: stringOption(inv, 'host') ?? '127.0.0.1',
      port,
      ...(publicUrl === undefined ? {} : { publicUrl }),
      allowSim: inv.options['allow-sim'] === true,
      signedPoliciesOnly: inv.options['signed-policies-only'] === true,
      simTrustedKeys: await jwks(listOption(inv, 'sim-trust')),
      owners: await jwks(listOption(inv, 'owner')),
      tokenTtlSeconds: ttl,
      verification,
      ...protection,
      ...selfAttestation,
      rateLimit,
      ownerRateLimit,
      adminClientCaPem,
      corsOrigins: listOption(inv, 'cors-origin'),
      log: createLogger({ write: (line) => inv.io.out(line) }),
    })
    key.fill(0)
    protection.kek?.fill(0)
    reportRecoveryShares(inv, broker.recoveryShares)
    await publishSelfAttestationKey(dataDir, broker.selfAttestationKey)
    if (broker.context.allowSim)
      inv.io.err(
        'WARNING: --allow-sim: the sim TEE is INSECURE (no hardware protection). Development only.\n',
      )
    // The first SIGTERM/SIGINT drains (the handlers were installed once, before the broker
    // announced itself, so none is missed); a second one stops at once.
    await stopped
    await broker.shutdown({ drainDelayMs: drainDelay * 1000, graceMs: shutdownTimeout * 1000 })
    return 0
  },
}
