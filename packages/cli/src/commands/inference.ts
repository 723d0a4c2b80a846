import { readFile, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import {
  type AttestRequest,
  earCallerVerifier,
  exchangedCallerVerifier,
  loadWdbc,
  startModelService,
  trainWdbcModel,
  WDBC_CSV_PATH,
} from '@subrosa/inference'
import { attestWorkload, type TeeProvider } from '@subrosa/launcher'
import { type BrokerClient, createMemoryReplayCache } from '@subrosa/sdk'
import type { JSONWebKeySet } from 'jose'
import { type Command, listOption, stringOption } from '../command.ts'
import { brokerClient, CONNECTION_OPTIONS } from '../config.ts'
import { CliError } from '../errors.ts'
import { untilStopSignal } from '../signals.ts'
import { TEE_OPTIONS, teeFor } from './workload.ts'

/** `subrosa model train` */
export const modelTrain: Command = {
  path: ['model', 'train'],
  summary:
    'Train the WDBC breast-cancer logistic regression and export it as ONNX (deterministic).',
  usage: '[--csv breast_cancer.csv] [--out model.onnx] [--seed n]',
  description:
    "Data: the Wisconsin Diagnostic Breast Cancer CSV that Debian's python3-sklearn ships.\n" +
    'Seeded 80/20 split, standardization, full-batch gradient descent; the same data and seed\n' +
    'give the same bytes. Encrypt the model with `subrosa encrypt model.onnx model.onnx.srsa --key <ns>/<key>`.',
  json: true,
  options: {
    csv: { type: 'string', value: 'file', description: 'The WDBC CSV', default: WDBC_CSV_PATH },
    out: {
      type: 'string',
      value: 'file',
      description: 'ONNX file to write',
      default: 'model.onnx',
    },
    seed: { type: 'string', value: 'n', description: 'Seed of the train/test split' },
  },
  async run(inv) {
    const seedText = stringOption(inv, 'seed')
    const seed = seedText === undefined ? undefined : Number(seedText)
    if (seed !== undefined && !Number.isSafeInteger(seed))
      throw new CliError('ERR_CLI_USAGE', '--seed must be an integer')
    const data = await loadWdbc(resolve(inv.io.cwd, stringOption(inv, 'csv') ?? WDBC_CSV_PATH))
    const trained = trainWdbcModel(data, seed === undefined ? {} : { seed })
    const out = resolve(inv.io.cwd, stringOption(inv, 'out') ?? 'model.onnx')
    await writeFile(out, trained.onnx)
    const m = trained.metrics
    inv.io.out(
      inv.json
        ? JSON.stringify({ file: out, bytes: trained.onnx.length, sha256: trained.sha256, ...m })
        : `Wrote ${out} (${trained.onnx.length} bytes, sha256 ${trained.sha256})\n` +
            `  train ${m.trainSamples} samples, accuracy ${m.trainAccuracy.toFixed(4)}\n` +
            `  test  ${m.testSamples} samples, accuracy ${m.testAccuracy.toFixed(4)}, sensitivity ${m.sensitivity.toFixed(4)}, specificity ${m.specificity.toFixed(4)}`,
    )
    return 0
  },
}

/**
 * The service's attestation: the launcher's KBS flow with the service's own TEE key pair, binding
 * its TLS certificate (claim `subrosa.tls-cert-sha256`, which callers' `attestedFetch` checks).
 */
function attestService(client: BrokerClient, workload: string, tee: TeeProvider) {
  return async (request: AttestRequest) => {
    const attested = await attestWorkload({
      client,
      workload,
      tee,
      keyPair: request.keyPair,
      tlsCertificate: request.tlsCertificate,
    })
    return { token: attested.token, kms: attested.kms }
  }
}

/**
 * `'open'` without callers (the command checked `--open` was given); else a verifier of EAR
 * tokens, or with `audience` of exchanged tokens (single use, remembered in this process only).
 */
async function callerVerifier(
  callers: readonly string[],
  audience: string | undefined,
  client: BrokerClient,
) {
  if (callers.length === 0) return 'open' as const
  const jwks = (await client.call('GET', '/.well-known/jwks.json', { kind: 'none' })).body
  const info = (await client.call('GET', '/.well-known/subrosa-broker', { kind: 'none' })).body
  const broker = {
    jwks: jwks as JSONWebKeySet,
    issuer: String((info as { issuer?: unknown }).issuer),
    workloads: callers,
  }
  return audience === undefined
    ? earCallerVerifier(broker)
    : exchangedCallerVerifier({ ...broker, audience, replayCache: createMemoryReplayCache() })
}

/** `subrosa serve-model` */
export const serveModel: Command = {
  path: ['serve-model'],
  summary: 'Serve an encrypted ONNX model over HTTPS as an attested workload (JWE in, JWE out).',
  usage:
    '--model <model.onnx.srsa> --workload <ns>/<policy>/<workload> (--caller <w>... | --open) [options]',
  description:
    'Attests as --workload (the bundle measured is --bundle, or else the model file), unwraps the\n' +
    "model's key through the broker, decrypts the model in memory only, and serves\n" +
    'GET /v1/attestation (its token; akpub = the request key) and POST /v1/infer (a JWE to that key,\n' +
    "answered with a JWE to the request's replyKey) with its own self-signed TLS certificate.\n" +
    'Callers present a broker token as Authorization: Bearer: their EAR token, or with --audience\n' +
    "a service token from the broker's token exchange (single use); --open accepts any caller.\n" +
    'It re-attests with the same keys before its token expires; SIGINT/SIGTERM stop it.',
  json: true,
  options: {
    ...CONNECTION_OPTIONS,
    ...TEE_OPTIONS,
    model: { type: 'string', value: 'file', description: 'The encrypted model (stream format)' },
    workload: { type: 'string', value: 'ns/policy/workload', description: 'Workload to attest as' },
    host: {
      type: 'string',
      value: 'address',
      description: 'Address to listen on',
      default: '127.0.0.1',
    },
    port: { type: 'string', value: 'port', description: 'Port to listen on', default: '8443' },
    'tls-name': {
      type: 'string',
      value: 'name',
      multiple: true,
      description: 'DNS name or IP of the TLS certificate (default: --host)',
    },
    caller: {
      type: 'string',
      value: 'ns/policy/workload',
      multiple: true,
      description: 'A workload whose broker token may call the service',
    },
    audience: {
      type: 'string',
      value: 'name',
      description:
        "With --caller: accept only the broker's exchanged tokens for this audience, each once",
    },
    open: { type: 'boolean', description: 'Accept any caller, without a token' },
    'max-body': {
      type: 'string',
      value: 'bytes',
      description: 'Largest request body',
      default: '1048576',
    },
  },
  async run(inv) {
    const model = stringOption(inv, 'model')
    const workload = stringOption(inv, 'workload')
    if (model === undefined || workload === undefined || inv.positionals.length > 0)
      throw new CliError('ERR_CLI_USAGE', 'serve-model needs --model and --workload (see --help)')
    const callers = listOption(inv, 'caller')
    if ((inv.options.open === true) === callers.length > 0)
      throw new CliError(
        'ERR_CLI_USAGE',
        'Give either --caller <ns/policy/workload> (repeatable) or --open',
      )
    const port = Number(stringOption(inv, 'port'))
    const maxBody = Number(stringOption(inv, 'max-body'))
    if (!Number.isInteger(port) || port < 0 || port > 65535)
      throw new CliError('ERR_CLI_USAGE', '--port must be 0..65535')
    if (!Number.isInteger(maxBody) || maxBody < 1024)
      throw new CliError('ERR_CLI_USAGE', '--max-body must be an integer >= 1024')
    const modelPath = resolve(inv.io.cwd, model)
    const modelFile = await readFile(modelPath).catch((cause: unknown) => {
      throw new CliError('ERR_CLI_FILE', `Cannot read the model ${modelPath}`, { cause })
    })
    const { tee } = await teeFor(inv, resolve(inv.io.cwd, stringOption(inv, 'bundle') ?? model))
    const host = stringOption(inv, 'host') ?? '127.0.0.1'
    const names = listOption(inv, 'tls-name')
    const client = await brokerClient(inv, false)
    const stopped = untilStopSignal()
    try {
      const service = await startModelService({
        modelFile: new Uint8Array(modelFile),
        attest: attestService(client, workload, tee),
        verifyCaller: await callerVerifier(callers, stringOption(inv, 'audience'), client),
        hosts: names.length > 0 ? names : [host],
        host,
        port,
        maxBodyBytes: maxBody,
        log: (event) => inv.io.err(`${JSON.stringify(event)}\n`),
      })
      const summary = {
        url: service.url,
        workload,
        tee: tee.tee,
        modelSha256: service.modelSha256,
        tlsCertSha256: service.tls.sha256,
      }
      inv.io.out(
        inv.json
          ? JSON.stringify(summary)
          : `Serving ${workload} at ${service.url} (model sha256 ${service.modelSha256})\n  TLS certificate sha256 (base64url) ${service.tls.sha256}`,
      )
      if (tee.tee === 'sim')
        inv.io.err('WARNING: --tee sim is INSECURE (no hardware protection). Development only.\n')
      await stopped
      await service.close()
    } finally {
      client.close()
    }
    return 0
  },
}
