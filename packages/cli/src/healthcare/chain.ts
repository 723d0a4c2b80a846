// The whole healthcare chain on one machine: an embedded broker (sim TEE, INSECURE: no hardware
// protection), a TLS-only redis-server with certificates from the broker CA, the WDBC model
// trained by the project's own code and encrypted under a broker key, two diagnostics replicas,
// the API, and an attested clerk client. Used by `subrosa demo healthcare`, its end-to-end test
// and `bench/inference.ts`.
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateSimPlatformKey, type SimPlatformKey } from '@subrosa/attest'
import { type LogEvent, type RunningBroker, startBroker } from '@subrosa/broker'
import { systemClock, systemRandom, toHex } from '@subrosa/core'
import {
  encryptModel,
  loadWdbc,
  type ModelService,
  type ModelServiceLogEvent,
  type TrainedModel,
  trainWdbcModel,
} from '@subrosa/inference'
import { attestWorkload, measureBundlePath, simTee, type TeeProvider } from '@subrosa/launcher'
import { generateOwnerKey } from '@subrosa/protocol'
import {
  applyPolicy,
  BrokerClient,
  createKey,
  createMemoryReplayCache,
  createOwnerKms,
  type ServiceExpectation,
} from '@subrosa/sdk'
import {
  type ApiLogEvent,
  type ApiService,
  type ApiServiceOptions,
  startApiService,
} from '../../../../examples/healthcare/api-service.ts'
import { type Submission, submitRecord } from '../../../../examples/healthcare/clerk.ts'
import { startDiagnosticsService } from '../../../../examples/healthcare/diagnostics-service.ts'
import type { PatientRecord } from '../../../../examples/healthcare/record.ts'
import { startTlsRedis, type TlsRedis } from './redis.ts'

/** The example's directory (policy.yaml, the services' sources the sim TEE measures). */
export const HEALTHCARE_DIR = join(import.meta.dirname, '../../../../examples/healthcare')
export const NAMESPACE = 'health'
export const POLICY = 'clinic'
export const WORKLOADS = {
  clerk: 'health/clinic/clerk',
  api: 'health/clinic/api',
  diagnostics: 'health/clinic/diagnostics',
} as const

/** One captured log line of any part of the chain. */
export type ChainLogLine =
  | { readonly source: 'broker'; readonly event: LogEvent }
  | { readonly source: 'api'; readonly event: ApiLogEvent }
  | {
      readonly source: 'diagnostics'
      readonly replica: number
      readonly event: ModelServiceLogEvent
    }

/** A running chain. */
export type HealthcareChain = {
  readonly broker: RunningBroker
  readonly redis: TlsRedis
  readonly trained: TrainedModel
  readonly modelPath: string
  readonly measurements: {
    readonly clerk: string
    readonly api: string
    readonly diagnostics: string
  }
  readonly diagnostics: readonly ModelService[]
  readonly api: ApiService
  /** What the clerk requires of the API. */
  readonly apiExpectation: ServiceExpectation
  /** Every log line of broker, API and diagnostics replicas, in order. */
  readonly logs: ChainLogLine[]
  /** A fresh broker client (closed with the chain). */
  client(): BrokerClient
  /** The clerk's EAR token (attested once). */
  clerkToken(): string
  /** A sim TEE with the given measurement (hex), optionally in debug mode. */
  tee(measurement: string, debug?: boolean): TeeProvider
  /** Start another API instance, e.g. with another expectation of the diagnostics service. */
  startApi(overrides?: Partial<ApiServiceOptions>): Promise<ApiService>
  /** Submit a record as the clerk to `api` (default: the chain's API). */
  submit(
    record: PatientRecord,
    options?: { api?: ApiService; audience?: string; callerToken?: string },
  ): Promise<Submission>
  /** Records built from the model's held-out test split, with made-up patients. */
  sampleRecords(count: number): PatientRecord[]
  /** How many `POST /v1/infer` requests the diagnostics replicas received. */
  inferRequests(): number
  close(): Promise<void>
}

/** Options of {@link startHealthcareChain}. */
export type ChainOptions = {
  /** Working directory: the encrypted model, Redis's TLS files. */
  readonly dir: string
  /** Diagnostics replicas (default 2). */
  readonly replicas?: number
  /** Origins the broker answers with CORS (the clerk portal's origin; ADR 0031). */
  readonly brokerCorsOrigins?: readonly string[]
  readonly say?: (line: string) => void
}

/**
 * Start every part of the chain.
 *
 * @throws CliError `ERR_CLI_MISSING_TOOL` without redis-server; InferenceError
 * `ERR_INFER_DATASET` without python3-sklearn's breast_cancer.csv; what the services throw.
 */
export async function startHealthcareChain(options: ChainOptions): Promise<HealthcareChain> {
  const say = options.say ?? (() => {})
  const logs: ChainLogLine[] = []
  const clients: BrokerClient[] = []
  const closers: (() => Promise<void>)[] = []
  const close = async () => {
    for (const c of closers.reverse()) await c().catch(() => {})
    for (const c of clients) c.close()
  }
  try {
    const measurements = {
      clerk: await measure('clerk.ts'),
      api: await measure('api-service.ts'),
      diagnostics: await measure('diagnostics-service.ts'),
    }
    const sim: SimPlatformKey = await generateSimPlatformKey()
    const owner = await generateOwnerKey()
    const broker = await startBroker({
      unsealKey: systemRandom(32),
      allowSim: true,
      simTrustedKeys: [sim.publicJwk],
      owners: [owner.publicJwk],
      port: 0,
      ...(options.brokerCorsOrigins === undefined
        ? {}
        : { corsOrigins: options.brokerCorsOrigins }),
      log: (event) => logs.push({ source: 'broker', event }),
    })
    closers.push(() => broker.close())
    say(`broker      ${broker.url} (embedded; sim TEE allowed: INSECURE, no hardware protection)`)
    const client = () => {
      const c = new BrokerClient({ url: broker.url, caPem: broker.caPem })
      clients.push(c)
      return c
    }
    const admin = new BrokerClient({ url: broker.url, caPem: broker.caPem }, { owner })
    clients.push(admin)
    await createKey(admin, NAMESPACE, 'model')
    const template = await readFile(join(HEALTHCARE_DIR, 'policy.yaml'), 'utf8')
    await applyPolicy(
      admin,
      template
        .replace('<OWNER>', owner.id)
        .replace('<CLERK_MEASUREMENT>', measurements.clerk)
        .replace('<API_MEASUREMENT>', measurements.api)
        .replace('<DIAGNOSTICS_MEASUREMENT>', measurements.diagnostics),
    )
    say(`policy      ${NAMESPACE}/${POLICY}: clerk -> api -> diagnostics, model key to diagnostics`)
    const redis = await startTlsRedis(broker.context.keys.ca, options.dir)
    closers.push(() => redis.close())
    say(
      `redis       ${redis.host}:${redis.port} (TLS only, client certificates from the broker CA)`,
    )
    const trained = trainWdbcModel(await loadWdbc())
    const modelPath = join(options.dir, 'model.onnx.srsa')
    await writeFile(
      modelPath,
      await encryptModel(trained.onnx, {
        kms: createOwnerKms(admin),
        masterKeyId: `subrosa:${NAMESPACE}/model`,
      }),
    )
    say(
      `model       WDBC logistic regression, test accuracy ${trained.metrics.testAccuracy.toFixed(3)}, encrypted to ${modelPath}`,
    )
    const tee = (measurement: string, debug = false) =>
      simTee({
        platformKey: sim.privateJwk,
        measurement: Buffer.from(measurement, 'hex'),
        debug,
        clock: systemClock,
      })
    const issuer = broker.context.issuer
    const jwks = broker.jwks
    const modelFile = new Uint8Array(await readFile(modelPath))
    const replayCache = createMemoryReplayCache()
    const diagnostics: ModelService[] = []
    for (let i = 0; i < (options.replicas ?? 2); i++) {
      const replica = await startDiagnosticsService({
        client: client(),
        tee: tee(measurements.diagnostics),
        workload: WORKLOADS.diagnostics,
        modelFile,
        issuer,
        jwks,
        audience: 'diagnostics',
        callers: [WORKLOADS.api],
        replayCache,
        log: (event) => logs.push({ source: 'diagnostics', replica: i, event }),
      })
      closers.push(() => replica.close())
      diagnostics.push(replica)
      say(`diagnostics ${replica.url} (replica ${i + 1}, model key from the broker)`)
    }
    const apiOptions: ApiServiceOptions = {
      client: client(),
      tee: tee(measurements.api),
      workload: WORKLOADS.api,
      issuer,
      jwks,
      audience: 'api',
      callers: [WORKLOADS.clerk],
      allowSimCallers: true,
      redis: { host: redis.host, port: redis.port },
      diagnostics: {
        urls: diagnostics.map((d) => d.url),
        audience: 'diagnostics',
        expectation: {
          namespace: NAMESPACE,
          policy: POLICY,
          workload: 'diagnostics',
          measurement: measurements.diagnostics,
          allowSim: true,
        },
      },
      log: (event) => logs.push({ source: 'api', event }),
    }
    const startApi = async (overrides: Partial<ApiServiceOptions> = {}) => {
      const api = await startApiService({ ...apiOptions, client: client(), ...overrides })
      closers.push(() => api.close())
      return api
    }
    const api = await startApi()
    say(`api         ${api.url} (attested, TLS certificate bound in its token)`)
    const clerkClient = client()
    const clerk = await attestWorkload({
      client: clerkClient,
      workload: WORKLOADS.clerk,
      tee: tee(measurements.clerk),
    })
    const apiExpectation: ServiceExpectation = {
      issuer,
      jwks,
      namespace: NAMESPACE,
      policy: POLICY,
      workload: 'api',
      measurement: measurements.api,
      allowSim: true,
    }
    return {
      broker,
      redis,
      trained,
      modelPath,
      measurements,
      diagnostics,
      api,
      apiExpectation,
      logs,
      client,
      clerkToken: () => clerk.token,
      tee,
      startApi,
      submit: (record, o = {}) =>
        submitRecord(clerkClient, clerk.token, (o.api ?? api).url, apiExpectation, record, {
          ...(o.audience === undefined ? {} : { audience: o.audience }),
          ...(o.callerToken === undefined ? {} : { callerToken: o.callerToken }),
        }),
      sampleRecords: (count) =>
        Array.from({ length: count }, (_, i) => {
          const row = trained.test.x[i % trained.test.x.length] ?? []
          return {
            recordId: `rec-${String(i + 1).padStart(4, '0')}`,
            patient: { name: `Patient ${toHex(systemRandom(4))}`, birthDate: '1968-04-12' },
            features: Array.from(row),
          }
        }),
      inferRequests: () =>
        logs.filter(
          (l) =>
            l.source === 'diagnostics' &&
            l.event.event === 'request' &&
            l.event.path === '/v1/infer',
        ).length,
      close,
    }
  } catch (error) {
    await close()
    throw error
  }
}

async function measure(file: string): Promise<string> {
  return toHex((await measureBundlePath(join(HEALTHCARE_DIR, file))).measurement)
}
