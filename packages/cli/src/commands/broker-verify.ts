import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import type { StartBrokerOptions } from '@subrosa/broker'
import { systemRandom } from '@subrosa/core'
import { checkBrokerAttestation, fetchBrokerAttestation } from '@subrosa/sdk'
import type { JWK } from 'jose'
import { type Command, type Invocation, type OptionSpec, stringOption } from '../command.ts'
import { readJson, readText } from '../config.ts'
import { CliError } from '../errors.ts'

/** Name of the public self-attestation key a broker writes into its data directory. */
export const SELF_ATTESTATION_KEY_FILE = 'self-attestation.pub.jwk'

/** Options of `broker start` for self-attestation. */
export const SELF_ATTESTATION_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'self-attest': {
    type: 'string',
    value: 'tee',
    description:
      'Serve GET /v1/attestation/self with this TEE\'s evidence; only "sim" (INSECURE) here',
  },
  'self-attest-key': {
    type: 'string',
    value: 'jwk-file',
    description:
      'Private sim platform key for --self-attest sim (default: generated once, kept sealed in the state)',
  },
}

/** The `selfAttestation` option of startBroker from the command line. */
export async function selfAttestationOption(
  inv: Invocation,
): Promise<Pick<StartBrokerOptions, 'selfAttestation'>> {
  const tee = stringOption(inv, 'self-attest')
  const keyFile = stringOption(inv, 'self-attest-key')
  if (tee === undefined) {
    if (keyFile !== undefined)
      throw new CliError('ERR_CLI_USAGE', '--self-attest-key needs --self-attest sim')
    return {}
  }
  if (tee !== 'sim')
    throw new CliError('ERR_CLI_USAGE', '--self-attest takes "sim" (no TEE hardware support yet)')
  if (keyFile === undefined) return { selfAttestation: { tee: 'sim' } }
  const platformKey = (await readJson(resolve(inv.io.cwd, keyFile), 'a sim platform key')) as JWK
  if (typeof platformKey.d !== 'string')
    throw new CliError('ERR_CLI_FILE', `${keyFile} is not a private JWK`)
  return { selfAttestation: { tee: 'sim', platformKey } }
}

/** Write the public self-attestation key beside ca.pem, for clients to pin. */
export async function publishSelfAttestationKey(
  dataDir: string,
  key: JWK | undefined,
): Promise<void> {
  if (key === undefined) return
  await writeFile(join(dataDir, SELF_ATTESTATION_KEY_FILE), `${JSON.stringify(key)}\n`, {
    mode: 0o644,
  })
}

/** `subrosa broker verify` */
export const brokerVerify: Command = {
  path: ['broker', 'verify'],
  summary: "Check the broker's self-attestation: evidence binding its TLS certificate and a nonce.",
  usage: '[--url <url>] [--ca <pem>] [--sim-trust <jwk-file>]',
  description:
    'Sends a fresh random nonce to GET /v1/attestation/self over TLS with the CA pinned, verifies the\n' +
    'evidence, that it answers this nonce, and that its report data binds the very certificate this\n' +
    'connection presented: SHA-512("subrosa-broker-self-attestation-v1" 0x00 SHA-256(cert DER) nonce).\n' +
    'Sim evidence is checked against --sim-trust (default: <data-dir>/self-attestation.pub.jwk when\n' +
    'present, else the key in the answer, reported as NOT pinned). Exit 0 only when all checks pass.',
  json: true,
  options: {
    url: {
      type: 'string',
      value: 'url',
      description: 'Broker URL (env SUBROSA_BROKER; default: from <data-dir>/broker.json)',
    },
    ca: {
      type: 'string',
      value: 'pem',
      description: 'Broker CA certificate to pin (default: <data-dir>/ca.pem)',
    },
    'sim-trust': {
      type: 'string',
      value: 'jwk-file',
      description: "The broker's public sim platform key to pin",
    },
    'data-dir': {
      type: 'string',
      value: 'dir',
      description: 'Broker data directory',
      default: '.subrosa',
    },
  },
  async run(inv) {
    const { cwd, env } = inv.io
    const dataDir = resolve(cwd, stringOption(inv, 'data-dir') ?? '.subrosa')
    let url = stringOption(inv, 'url') ?? env.SUBROSA_BROKER
    if (url === undefined) {
      const info = (await readJson(
        join(dataDir, 'broker.json'),
        'broker.json (or pass --url)',
      )) as {
        url?: unknown
      }
      if (typeof info.url !== 'string')
        throw new CliError('ERR_CLI_FILE', `${join(dataDir, 'broker.json')} has no url`)
      url = info.url
    }
    const caPem = await readText(
      resolve(cwd, stringOption(inv, 'ca') ?? join(dataDir, 'ca.pem')),
      'the broker CA certificate (--ca)',
    )
    const defaultKey = join(dataDir, SELF_ATTESTATION_KEY_FILE)
    const trustFile =
      stringOption(inv, 'sim-trust') ?? (existsSync(defaultKey) ? defaultKey : undefined)
    const simTrustedKeys =
      trustFile === undefined
        ? []
        : [(await readJson(resolve(cwd, trustFile), 'a public sim platform key')) as JWK]
    const nonce = systemRandom(32)
    const fetched = await fetchBrokerAttestation({ url, caPem }, nonce)
    const verified = await checkBrokerAttestation(fetched, {
      nonce,
      now: new Date(),
      simTrustedKeys,
    })
    if (inv.json) {
      inv.io.out(JSON.stringify({ ok: true, url, ...verified }))
    } else {
      inv.io.out(
        [
          `Broker ${url} attested itself:`,
          `  TEE            ${verified.tee}${verified.insecure ? ' (SIMULATED TEE — NOT SECURE: no hardware protection)' : ''}`,
          `  measurement    ${verified.measurement}`,
          `  platform key   ${verified.platformKey}${verified.platformKeyPinned ? ' (pinned)' : ' (NOT pinned: taken from the answer; pass --sim-trust)'}`,
          `  certificate    sha256 ${verified.certificateSha256} = the certificate of this TLS connection`,
          `  nonce          ${verified.nonce} (fresh, answered and bound in report_data)`,
          `  build          ${verified.build}`,
        ].join('\n'),
      )
    }
    if (verified.insecure) inv.io.err('WARNING: simulated TEE — not secure.\n')
    return 0
  },
}
