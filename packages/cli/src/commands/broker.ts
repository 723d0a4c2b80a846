import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { startBroker } from '@subrosa/broker'
import { fromBase64, systemRandom, toBase64 } from '@subrosa/core'
import type { JWK } from 'jose'
import { type Command, listOption, stringOption } from '../command.ts'
import { readJson, writePrivateFile } from '../config.ts'
import { CliError } from '../errors.ts'
import { brokerVerification, VERIFICATION_OPTIONS } from '../verification.ts'

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
    '--pccs / --kds when given (cached under <data-dir>/collateral-cache). Tokens need --token-issuer.',
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
    owner: {
      type: 'string',
      value: 'jwk-file',
      multiple: true,
      description: 'Register this owner public key',
    },
    'token-ttl': {
      type: 'string',
      value: 'seconds',
      description: 'Lifetime of attestation tokens',
      default: '1800',
    },
    ...VERIFICATION_OPTIONS,
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
    // Bad verification settings fail before anything is created.
    const verification = await brokerVerification(inv, resolve(dataDir, 'collateral-cache'))
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
    const publicUrl = stringOption(inv, 'public-url')
    // Listen for the stop signals before the broker announces itself, so none is missed.
    const stopped = new Promise<void>((done) => {
      const stop = () => done()
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    const broker = await startBroker({
      dataDir,
      ...(postgres === undefined ? {} : { postgres }),
      unsealKey: key,
      host: stringOption(inv, 'host') ?? '127.0.0.1',
      port,
      ...(publicUrl === undefined ? {} : { publicUrl }),
      allowSim: inv.options['allow-sim'] === true,
      simTrustedKeys: await jwks(listOption(inv, 'sim-trust')),
      owners: await jwks(listOption(inv, 'owner')),
      tokenTtlSeconds: ttl,
      verification,
      log: (event) => inv.io.out(JSON.stringify({ at: new Date().toISOString(), ...event })),
    })
    key.fill(0)
    if (broker.context.allowSim)
      inv.io.err(
        'WARNING: --allow-sim: the sim TEE is INSECURE (no hardware protection). Development only.\n',
      )
    await stopped
    await broker.close()
    return 0
  },
}
