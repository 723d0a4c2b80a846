import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { basename, delimiter, dirname, join, resolve } from 'node:path'
import { systemClock, toHex } from '@subrosa/core'
import { createStoreResolver, type JobProgress, runJob } from '@subrosa/engine'
import {
  type AttestedWorkload,
  attestWorkload,
  createScratch,
  detectTee,
  isTeeChoice,
  launchCommand,
  materializeInjection,
  measureBundlePath,
  simTee,
  TEE_CHOICES,
  type TeeProvider,
  writeSecretFile,
} from '@subrosa/launcher'
import type { BrokerClient } from '@subrosa/sdk'
import { type CryptoKey, exportJWK, generateKeyPair, type JWK } from 'jose'
import { type Command, type Invocation, listOption, stringOption } from '../command.ts'
import { brokerClient, CONNECTION_OPTIONS, readJson } from '../config.ts'
import { CliError } from '../errors.ts'
import { formatBytes, progressBar } from '../output.ts'
import { SPARK_KMS_KEY_FILE, SPARK_KMS_TOKEN_FILE } from '../spark/defaults.ts'
import { azureOption, validateJobFile } from './job.ts'

const JOB_ID = /^[a-z0-9](?:[-a-z0-9.]{0,61}[a-z0-9])?$/

export const TEE_OPTIONS = {
  tee: {
    type: 'string',
    value: 'kind',
    description:
      'TEE to attest with: sim (INSECURE), tdx or snp (configfs-tsm), sgx (Gramine), auto (detect hardware)',
    default: 'sim',
  },
  'sim-key': {
    type: 'string',
    value: 'file',
    description: 'Sim platform private key (env SUBROSA_SIM_KEY)',
    default: 'sim-platform.jwk',
  },
  bundle: {
    type: 'string',
    value: 'path',
    description: 'Workload bundle to measure (file or directory)',
  },
} as const

/**
 * The account of an attestation, printed by `run` and `launch` (no secrets). The measurement is
 * the one the broker verified (from the token's annotated evidence: the hardware's for TDX, SNP
 * and SGX), else the bundle's.
 */
export function attestationSummary(attested: AttestedWorkload, bundleMeasurement: Uint8Array) {
  const c = attested.claims
  const verified = (c.submods.cpu0['ear.veraison.annotated-evidence'] as { measurement?: unknown })
    .measurement
  const measurement = typeof verified === 'string' ? verified : toHex(bundleMeasurement)
  return {
    workload: `${c['subrosa.workload'].namespace}/${c['subrosa.workload'].policy}/${c['subrosa.workload'].workload}`,
    tee: c['subrosa.tee'],
    insecure: attested.insecure,
    measurement,
    token: {
      issuer: c.iss,
      id: c.jti,
      status: c.submods.cpu0['ear.status'],
      policyVersion: c['subrosa.workload'].policyVersion,
      policyHash: c['subrosa.workload'].policyHash,
      clause: c['subrosa.workload'].clause,
      issuedAt: new Date(c.iat * 1000).toISOString(),
      expiresAt: new Date(c.exp * 1000).toISOString(),
    },
  }
}

/**
 * The TEE `--tee` chooses (default sim) and the bundle's measurement; the sim TEE's platform key
 * is read only when sim is chosen (`--sim-key`, `SUBROSA_SIM_KEY`).
 *
 * @throws CliError `ERR_CLI_USAGE` for an unknown `--tee`; the launcher's `ERR_LAUNCHER_TEE_*`.
 */
export async function teeFor(
  inv: Invocation,
  bundle: string,
): Promise<{ tee: TeeProvider; measurement: Uint8Array }> {
  const choice = stringOption(inv, 'tee') ?? 'sim'
  if (!isTeeChoice(choice))
    throw new CliError(
      'ERR_CLI_USAGE',
      `--tee ${choice}: expected one of ${TEE_CHOICES.join(', ')}`,
    )
  const { measurement } = await measureBundlePath(bundle)
  const tee = await detectTee({
    choice,
    sim: async () => {
      const keyFile = resolve(
        inv.io.cwd,
        inv.io.env.SUBROSA_SIM_KEY ?? stringOption(inv, 'sim-key') ?? 'sim-platform.jwk',
      )
      const platformKey = (await readJson(
        keyFile,
        'the sim platform key (--sim-key; create one with subrosa sim keygen)',
      )) as JWK
      return simTee({ platformKey, measurement, clock: systemClock })
    },
  })
  return { tee, measurement }
}

async function attestAs(
  inv: Invocation,
  workload: string,
  bundle: string,
  job?: string,
  keyPair?: { readonly privateKey: CryptoKey; readonly publicKey: CryptoKey },
): Promise<{ client: BrokerClient; attested: AttestedWorkload; measurement: Uint8Array }> {
  const { tee, measurement } = await teeFor(inv, bundle)
  const client = await brokerClient(inv, false)
  try {
    const attested = await attestWorkload({
      client,
      workload,
      tee,
      ...(job === undefined ? {} : { job }),
      ...(keyPair === undefined ? {} : { keyPair }),
    })
    return { client, attested, measurement }
  } catch (error) {
    client.close()
    throw error
  }
}

/** `subrosa run` */
export const run: Command = {
  path: ['run'],
  summary:
    "Attest as the job's policy workload, then run the job with the keys the policy releases.",
  usage: '<job.yaml> [options]',
  description:
    'The launcher measures the bundle (default: the job file), attests through the broker (KBS protocol),\n' +
    'receives the injection and a KMS bound to its ephemeral TEE key, and runs the engine in this process.\n' +
    'With the sim TEE this is INSECURE: nothing protects this process from the host.',
  json: true,
  options: {
    ...CONNECTION_OPTIONS,
    ...TEE_OPTIONS,
    param: {
      type: 'string',
      value: 'name=value',
      multiple: true,
      description: "Value for one of the job's parameters",
    },
    decrypt: {
      type: 'string',
      value: 'native|scratch',
      description:
        'Who decrypts uniform PME Parquet: DuckDB (native, the default), or Subrosa, only the columns the queries read, into the memory-backed scratch dir (scratch)',
    },
  },
  async run(inv) {
    const [file] = inv.positionals
    if (file === undefined || inv.positionals.length !== 1)
      throw new CliError('ERR_CLI_USAGE', 'Expected <job.yaml> (see subrosa run --help)')
    const decrypt = stringOption(inv, 'decrypt') ?? 'native'
    if (decrypt !== 'native' && decrypt !== 'scratch')
      throw new CliError('ERR_CLI_USAGE', `--decrypt is native or scratch, not ${decrypt}`)
    const jobPath = resolve(inv.io.cwd, file)
    const { job, findings } = await validateJobFile(jobPath, undefined, inv.io.env)
    const errors = findings.filter((f) => f.level === 'error')
    if (errors.length > 0)
      throw new CliError(
        'ERR_CLI_JOB',
        `The job has ${errors.length} error(s), first at ${errors[0]?.path}: ${errors[0]?.message} (subrosa job validate lists them all)`,
      )
    const bundle = resolve(inv.io.cwd, stringOption(inv, 'bundle') ?? file)
    const { client, attested, measurement } = await attestAs(inv, job.policy, bundle)
    const scratch = await createScratch()
    try {
      const injected = await materializeInjection(await attested.injection(), scratch.dir)
      const engineDir = join(scratch.dir, 'engine')
      await mkdir(engineDir, { mode: 0o700 })
      const progress = jobProgress(inv.io.stderrIsTty && !inv.json, inv.io.err)
      const summary = await runJob(job, {
        kms: attested.kms,
        scratchDir: engineDir,
        baseDir: dirname(jobPath),
        kmsInstance: { id: 'subrosa', url: client.url },
        parameters: jobParameters(inv),
        decrypt,
        resolveStore: createStoreResolver({
          baseDir: dirname(jobPath),
          ...azureOption(inv.io.env),
        }),
        onProgress: progress.update,
      }).finally(progress.done)
      const result = {
        ok: true,
        ...attestationSummary(attested, measurement),
        injected: { env: Object.keys(injected.env), files: injected.files.length },
        ...summary,
      }
      if (inv.json) inv.io.out(JSON.stringify(result))
      else {
        if (attested.insecure)
          inv.io.err('WARNING: attested with the sim TEE: INSECURE, development only.\n')
        inv.io.out(
          `Attested ${result.workload} (${result.tee}) measurement ${result.measurement.slice(0, 16)}…, token ${result.token.id} until ${result.token.expiresAt}`,
        )
        for (const i of summary.inputs)
          inv.io.out(
            `Read ${i.name} (${i.format}, ${i.uri}): ${formatBytes(i.bytes)} in ${i.files} file(s) under ${i.masterKeyId}, decrypted ${i.read === 'native' ? 'by DuckDB' : `into the TEE scratch dir${i.columns === undefined ? '' : ` (only ${i.columns.join(', ')})`}`}${i.droppedColumns.length > 0 ? `; columns not granted: ${i.droppedColumns.join(', ')}` : ''}`,
          )
        for (const o of summary.outputs)
          inv.io.out(
            `Wrote ${o.name} (${o.format}, ${o.uri}): ${o.rows} rows, ${formatBytes(o.bytes)} in ${o.files} file(s) under ${o.masterKeyId}`,
          )
        inv.io.out(`Done in ${(summary.durationMs / 1000).toFixed(1)} s`)
      }
      return 0
    } finally {
      await scratch.dispose()
      client.close()
    }
  },
}

/** `--param name=value` options, by name. */
function jobParameters(inv: Invocation): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of listOption(inv, 'param')) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new CliError('ERR_CLI_USAGE', `--param ${pair}: expected name=value`)
    out[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return out
}

/** Progress bars on stderr, one per phase: reading inputs, querying, writing outputs. */
function jobProgress(enabled: boolean, write: (text: string) => void) {
  let label = ''
  let bar = progressBar(false, write, '')
  const phase = (next: string, unit: 'bytes' | 'rows' = 'bytes') => {
    if (next === label) return
    bar.done()
    label = next
    bar = progressBar(enabled, write, next, { delayMs: 300, unit })
  }
  return {
    update(p: JobProgress) {
      if (p.phase === 'input') {
        phase(`read ${p.input}`)
        bar.update(p.bytes, p.total)
      } else if (p.phase === 'query') {
        phase(`query ${p.output}`, 'rows')
        bar.update(p.rows, p.total)
      } else {
        phase(`write ${p.output}`)
        bar.update(p.bytes, p.total)
      }
    },
    done() {
      bar.done()
    },
  }
}

/** The file a command names: a path as given, or the first match in PATH. */
function commandPath(command: string, io: Invocation['io']): string {
  if (command.includes('/')) return resolve(io.cwd, command)
  for (const dir of (io.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, command)
    if (dir !== '' && existsSync(candidate)) return candidate
  }
  throw new CliError('ERR_CLI_USAGE', `Cannot find ${command} in PATH to measure it; pass --bundle`)
}

/** `subrosa launch` */
export const launch: Command = {
  path: ['launch'],
  summary: 'Attest as a policy workload and start a command with the injected env and files.',
  usage: '--policy <ns>/<policy>/<workload> [--bundle <path>] [options] -- <command> [args...]',
  description:
    'The bundle measured is --bundle, or else the command file itself (looked up in PATH).\n' +
    'Files of the policy injection are written (0600) under a private scratch dir standing for /run/subrosa/,\n' +
    'env values naming /run/subrosa/ are rewritten to it, and the dir is removed when the command exits.\n' +
    "The exit code is the command's.\n" +
    "With --spark-entrypoint (the entrypoint of pods rendered by subrosa spark render), the job's secret\n" +
    '--secret (derived per job by the broker) is written to --secret-file (0600) after attestation and before\n' +
    'the command starts; nothing is written and nothing starts when attestation fails. --end-job (the driver)\n' +
    "revokes the job's tokens at the broker when the command exits.",
  json: false,
  restArgs: true,
  options: {
    ...CONNECTION_OPTIONS,
    ...TEE_OPTIONS,
    policy: { type: 'string', value: 'ns/policy/workload', description: 'Workload to attest as' },
    job: {
      type: 'string',
      value: 'id',
      description:
        'Job this process belongs to (a Spark application id); its tokens are revoked together',
    },
    'spark-entrypoint': {
      type: 'boolean',
      description: "Write the job's Spark auth secret to --secret-file before starting the command",
    },
    secret: {
      type: 'string',
      value: 'name',
      description:
        "Policy secret written by --spark-entrypoint (one the workload's injection names)",
      default: 'spark-auth',
    },
    'secret-file': {
      type: 'string',
      value: 'path',
      description: 'Where --spark-entrypoint writes the secret (an in-memory emptyDir in pods)',
      default: '/run/subrosa-spark/spark-auth',
    },
    'end-job': {
      type: 'boolean',
      description: 'When the command exits, end the job at the broker (revoke its tokens)',
    },
  },
  async run(inv) {
    const policy = stringOption(inv, 'policy')
    const [command, ...args] = inv.rest
    if (policy === undefined || command === undefined) {
      throw new CliError(
        'ERR_CLI_USAGE',
        'launch needs --policy and -- <command> (see subrosa launch --help)',
      )
    }
    const job = stringOption(inv, 'job')
    if (job !== undefined && !JOB_ID.test(job))
      throw new CliError(
        'ERR_CLI_USAGE',
        '--job must be lower-case letters, digits, dots and dashes, at most 63 (a Spark application id)',
      )
    const spark = inv.options['spark-entrypoint'] === true
    const endJob = inv.options['end-job'] === true
    if ((spark || endJob) && job === undefined)
      throw new CliError('ERR_CLI_USAGE', '--spark-entrypoint and --end-job need --job <id>')
    const secretFile = resolve(inv.io.cwd, stringOption(inv, 'secret-file') ?? '')
    const option = stringOption(inv, 'bundle')
    const bundle = option === undefined ? commandPath(command, inv.io) : resolve(inv.io.cwd, option)
    // The Spark KMS client in the JVM opens unwrap answers with the attested TEE key, so in Spark
    // mode it is extractable and written (0600) to the in-memory secret dir with the token.
    const keyPair = spark
      ? await generateKeyPair('ECDH-ES+A256KW', { extractable: true })
      : undefined
    // Attestation first: when it fails, nothing below runs, no file is written, nothing starts.
    const { client, attested, measurement } = await attestAs(inv, policy, bundle, job, keyPair)
    try {
      const summary = attestationSummary(attested, measurement)
      inv.io.err(
        `Attested ${summary.workload} (${summary.tee}${summary.insecure ? ', INSECURE' : ''}) measurement ${summary.measurement.slice(0, 16)}…${job === undefined ? '' : ` for job ${job}`}\n`,
      )
      try {
        if (spark) {
          const [ns = '', name = ''] = policy.split('/')
          const secret = await attested.resource(ns, name, stringOption(inv, 'secret') ?? '')
          await writeSecretFile(secretFile, secret)
          if (keyPair !== undefined) {
            const dir = dirname(secretFile)
            const utf8 = (text: string) => new TextEncoder().encode(text)
            await writeSecretFile(join(dir, basename(SPARK_KMS_TOKEN_FILE)), utf8(attested.token))
            const jwk = await exportJWK(keyPair.privateKey)
            await writeSecretFile(
              join(dir, basename(SPARK_KMS_KEY_FILE)),
              utf8(JSON.stringify(jwk)),
            )
          }
        }
        const result = await launchCommand(attested, command, args, { baseEnv: inv.io.env })
        return result.exitCode
      } finally {
        if (endJob) {
          await attested.endJob()
          inv.io.err(`Ended job ${job}: its tokens are revoked\n`)
        }
      }
    } finally {
      client.close()
    }
  },
}
