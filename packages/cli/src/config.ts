import { readFile, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { ownerKeyId } from '@subrosa/protocol'
import { BrokerClient, type BrokerConnection, type OwnerCredentials } from '@subrosa/sdk'
import type { JWK } from 'jose'
import type { Invocation, OptionSpec } from './command.ts'
import { stringOption } from './command.ts'
import { CliError } from './errors.ts'

/** Options every broker client command takes. */
export const CONNECTION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  broker: {
    type: 'string',
    value: 'url',
    description: 'Broker URL (env SUBROSA_BROKER; default: from <data-dir>/broker.json)',
  },
  ca: {
    type: 'string',
    value: 'file',
    description: 'Broker CA certificate to pin (env SUBROSA_CA; default: <data-dir>/ca.pem)',
  },
  'data-dir': {
    type: 'string',
    value: 'dir',
    description: 'Broker data directory (env SUBROSA_DATA_DIR)',
    default: '.subrosa',
  },
}

/** Options of commands signed by the owner. */
export const OWNER_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  ...CONNECTION_OPTIONS,
  'owner-key': {
    type: 'string',
    value: 'file',
    description: 'Owner private key (JWK) (env SUBROSA_OWNER_KEY)',
    default: 'owner.jwk',
  },
  'client-cert': {
    type: 'string',
    value: 'pem-file',
    description:
      'TLS client certificate, for brokers started with --admin-client-ca (env SUBROSA_CLIENT_CERT)',
  },
  'client-key': {
    type: 'string',
    value: 'pem-file',
    description: 'Private key of --client-cert (env SUBROSA_CLIENT_KEY)',
  },
}

function dataDir(inv: Invocation): string {
  return resolve(
    inv.io.cwd,
    inv.io.env.SUBROSA_DATA_DIR ?? stringOption(inv, 'data-dir') ?? '.subrosa',
  )
}

/** Resolve the broker URL and pinned CA from flags, env or the data directory. */
export async function brokerConnection(inv: Invocation): Promise<BrokerConnection> {
  const dir = dataDir(inv)
  let url = stringOption(inv, 'broker') ?? inv.io.env.SUBROSA_BROKER
  if (url === undefined) {
    const info = await readJson(
      join(dir, 'broker.json'),
      'broker.json (start a broker, or pass --broker)',
    )
    url =
      typeof (info as { url?: unknown }).url === 'string'
        ? (info as { url: string }).url
        : undefined
    if (url === undefined)
      throw new CliError('ERR_CLI_FILE', `${join(dir, 'broker.json')} has no url`)
  }
  const caFile = resolve(
    inv.io.cwd,
    stringOption(inv, 'ca') ?? inv.io.env.SUBROSA_CA ?? join(dir, 'ca.pem'),
  )
  return { url, caPem: await readText(caFile, 'the broker CA certificate (--ca)') }
}

/** Read the owner key named by --owner-key or SUBROSA_OWNER_KEY. */
export async function ownerCredentials(inv: Invocation): Promise<OwnerCredentials> {
  const file = resolve(
    inv.io.cwd,
    inv.io.env.SUBROSA_OWNER_KEY ?? stringOption(inv, 'owner-key') ?? 'owner.jwk',
  )
  const jwk = (await readJson(
    file,
    'the owner key (--owner-key; create one with subrosa owner keygen)',
  )) as JWK
  if (typeof jwk.d !== 'string') throw new CliError('ERR_CLI_FILE', `${file} is not a private JWK`)
  const { d: _d, ...pub } = jwk
  return { privateJwk: jwk, id: await ownerKeyId(pub) }
}

/** A broker client for the invocation, with the owner key when `owner` is set. */
export async function brokerClient(inv: Invocation, owner: boolean): Promise<BrokerClient> {
  const connection = await brokerConnection(inv)
  if (!owner) return new BrokerClient(connection)
  const certFile = stringOption(inv, 'client-cert') ?? inv.io.env.SUBROSA_CLIENT_CERT
  const keyFile = stringOption(inv, 'client-key') ?? inv.io.env.SUBROSA_CLIENT_KEY
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new CliError('ERR_CLI_USAGE', '--client-cert and --client-key go together')
  const clientCertificate =
    certFile === undefined || keyFile === undefined
      ? undefined
      : {
          certPem: await readText(resolve(inv.io.cwd, certFile), 'the client certificate'),
          keyPem: await readText(resolve(inv.io.cwd, keyFile), 'the client certificate key'),
        }
  return new BrokerClient(connection, {
    owner: await ownerCredentials(inv),
    ...(clientCertificate === undefined ? {} : { clientCertificate }),
  })
}

/** Read a UTF-8 file; a typed error naming what it is for. */
export async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `Cannot read ${what}: ${path}`, { cause })
  }
}

/** Read a JSON file. */
export async function readJson(path: string, what: string): Promise<unknown> {
  const text = await readText(path, what)
  try {
    return JSON.parse(text)
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `${path} (${what}) is not JSON`, { cause })
  }
}

/** Write a private key file: mode 0600, never overwriting. */
export async function writePrivateFile(path: string, content: string): Promise<void> {
  try {
    await writeFile(path, content, { mode: 0o600, flag: 'wx' })
  } catch (cause) {
    throw new CliError('ERR_CLI_FILE', `Cannot create ${path} (it must not exist yet)`, { cause })
  }
}
