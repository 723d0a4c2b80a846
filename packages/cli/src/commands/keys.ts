import { resolve } from 'node:path'
import { generateSimPlatformKey } from '@subrosa/attest'
import { generateOwnerKey } from '@subrosa/protocol'
import { createKey } from '@subrosa/sdk'
import { type Command, positionals, stringOption } from '../command.ts'
import { brokerClient, OWNER_OPTIONS, writePrivateFile } from '../config.ts'
import { CliError } from '../errors.ts'

/** Write a private JWK (0600) to `out` and its public half beside it as `<out>.pub.jwk`. */
async function writeKeyPair(
  out: string,
  key: { privateJwk: unknown; publicJwk: unknown },
): Promise<void> {
  await writePrivateFile(out, `${JSON.stringify(key.privateJwk)}\n`)
  await writePrivateFile(
    `${out.replace(/\.jwk$/, '')}.pub.jwk`,
    `${JSON.stringify(key.publicJwk)}\n`,
  )
}

/** `subrosa owner keygen` */
export const ownerKeygen: Command = {
  path: ['owner', 'keygen'],
  summary: "Create an owner key: the custodian's credential for the admin API.",
  usage: '[--out owner.jwk]',
  description:
    'Writes the private JWK (0600) and <out>.pub.jwk; register the public file with `broker start --owner`.',
  json: true,
  options: {
    out: {
      type: 'string',
      value: 'file',
      description: 'Private key file to create',
      default: 'owner.jwk',
    },
  },
  async run(inv) {
    const out = resolve(inv.io.cwd, stringOption(inv, 'out') ?? 'owner.jwk')
    const key = await generateOwnerKey()
    await writeKeyPair(out, key)
    inv.io.out(
      inv.json
        ? JSON.stringify({ id: key.id, privateKeyFile: out })
        : `Owner key ${key.id}\n  private: ${out}`,
    )
    return 0
  },
}

/** `subrosa sim keygen` */
export const simKeygen: Command = {
  path: ['sim', 'keygen'],
  summary:
    'Create a sim platform key: the INSECURE stand-in for TEE hardware on machines without it.',
  usage: '[--out sim-platform.jwk]',
  description:
    'Whoever holds this key can forge sim evidence for any measurement. Brokers trust it with\n' +
    '`broker start --allow-sim --sim-trust <out>.pub.jwk`; `run` and `launch` sign evidence with it.',
  json: true,
  options: {
    out: {
      type: 'string',
      value: 'file',
      description: 'Private key file to create',
      default: 'sim-platform.jwk',
    },
  },
  async run(inv) {
    const out = resolve(inv.io.cwd, stringOption(inv, 'out') ?? 'sim-platform.jwk')
    const key = await generateSimPlatformKey()
    await writeKeyPair(out, key)
    inv.io.out(
      inv.json
        ? JSON.stringify({ thumbprint: key.thumbprint, privateKeyFile: out, insecure: true })
        : `Sim platform key ${key.thumbprint} (INSECURE: development only)\n  private: ${out}`,
    )
    return 0
  },
}

/** `subrosa key create` */
export const keyCreate: Command = {
  path: ['key', 'create'],
  summary: 'Create a dataset master key subrosa:<namespace>/<name> in the broker (idempotent).',
  usage: '<namespace>/<name> [options]',
  json: true,
  options: OWNER_OPTIONS,
  async run(inv) {
    const [ref = ''] = positionals(inv, this, ['namespace/name'])
    const [namespace, name, extra] = ref.split('/')
    if (namespace === undefined || name === undefined || extra !== undefined)
      throw new CliError('ERR_CLI_USAGE', 'Name the key as <namespace>/<name>')
    const client = await brokerClient(inv, true)
    try {
      const result = await createKey(client, namespace, name)
      inv.io.out(
        inv.json ? JSON.stringify(result) : `${result.created ? 'Created' : 'Exists'} ${result.id}`,
      )
    } finally {
      client.close()
    }
    return 0
  },
}
