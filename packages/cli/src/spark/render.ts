import type { Job } from '@subrosa/policy'
import { stringify } from 'yaml'
import {
  BROKER_CA_DIR,
  JOB_DIR,
  SPARK_SECRET_DIR,
  SPARK_SECRET_FILE,
  securityConf,
} from './defaults.ts'
import { type SparkPlan, sparkPlan } from './plan.ts'

/** What `subrosa spark render` takes besides the job. */
export type SparkRenderOptions = {
  /** `<ns>/<policy>/<workload>` the pods attest as (the job's `policy` by default). */
  readonly workload?: string
  readonly image: string
  readonly namespace: string
  readonly executors: number
  /** The broker URL the launchers attest to and the KMS client calls. */
  readonly broker: string
  /** A raw driver Pod running spark-submit (client mode) instead of a SparkApplication. */
  readonly rawPod: boolean
  /**
   * Where the TEE comes from: extended resources every Spark container requests and is limited to
   * (`sgx.intel.com/epc: 8Gi`, `kubernetes.azure.com/sgx_epc_mem_in_MiB: "8192"`), node selectors
   * (a confidential-VM node pool) and a runtime class (Kata confidential containers).
   */
  readonly tee?: {
    readonly resources?: Readonly<Record<string, string>>
    readonly nodeSelector?: Readonly<Record<string, string>>
    readonly runtimeClassName?: string
  }
}

/** A rendered Kubernetes object. */
export type Manifest = { readonly apiVersion: string; readonly kind: string } & Record<
  string,
  unknown
>

export const SPARK_VERSION = '3.5.6'
export const RUNNER = 'local:///opt/subrosa/spark/run_job.py'
const SUBROSA = '/opt/subrosa/bin/subrosa'
const SERVICE_ACCOUNT = 'subrosa-spark'
const DRIVER = 'spark-kubernetes-driver'
const EXECUTOR = 'spark-kubernetes-executor'

/**
 * Render a job for Spark on Kubernetes: a ConfigMap with the plan (and, for the raw pod, the
 * Spark properties and executor pod template), and either a Spark Operator `SparkApplication`
 * (`sparkoperator.k8s.io/v1beta2`) or a driver Pod running spark-submit in client mode. Every
 * driver and executor container starts `subrosa launch --spark-entrypoint`, which attests, writes
 * the Spark auth secret into an in-memory emptyDir and only then starts Spark. No secret, token
 * or key is rendered: they exist only inside attested pods.
 *
 * @example renderSpark(job, { image: 'subrosa/spark:0.1.0', namespace: 'analytics', executors: 2,
 *   broker: 'https://subrosa-broker.subrosa.svc:8443', rawPod: false })
 * @throws CliError `ERR_SPARK_SQL`, `ERR_SPARK_UNSUPPORTED`.
 */
export function renderSpark(job: Job, options: SparkRenderOptions): Manifest[] {
  const workload = options.workload ?? job.policy
  const plan = sparkPlan(job, workload)
  const name = job.metadata.name
  const configMapName = `${name}-subrosa-job`
  const firstKey = plan.outputs[0]?.encryption['parquet.encryption.footer.key'] ?? ''
  const conf = securityConf(options.broker, firstKey)
  const labels = {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/managed-by': 'subrosa',
    'subrosa.dev/workload': workload.replaceAll('/', '.'),
  }
  const metadata = { name, namespace: options.namespace, labels }
  const data: Record<string, string> = { 'plan.json': `${JSON.stringify(plan, null, 2)}\n` }
  const pods = podParts(options, workload, configMapName)
  if (!options.rawPod) {
    const configMap = configMapOf(configMapName, metadata, data)
    const app: Manifest = {
      apiVersion: 'sparkoperator.k8s.io/v1beta2',
      kind: 'SparkApplication',
      metadata,
      spec: {
        type: 'Python',
        mode: 'cluster',
        image: options.image,
        imagePullPolicy: 'IfNotPresent',
        mainApplicationFile: RUNNER,
        arguments: [`${JOB_DIR}/plan.json`],
        sparkVersion: SPARK_VERSION,
        restartPolicy: { type: 'Never' },
        sparkConf: conf,
        driver: {
          cores: 1,
          memory: '2g',
          serviceAccount: SERVICE_ACCOUNT,
          labels: { 'subrosa.dev/role': 'driver' },
          template: pods.template('driver', jobIdFromLabel()),
        },
        executor: {
          instances: options.executors,
          cores: 1,
          memory: '2g',
          labels: { 'subrosa.dev/role': 'executor' },
          template: pods.template('executor', jobIdFromLabel()),
        },
      },
    }
    return [configMap, app]
  }
  // Raw pod: the driver runs spark-submit in client mode and creates the executors itself. Its
  // app id (and so the executors' spark-app-selector label, their job id) derives from its UID.
  const properties: Record<string, string> = {
    'spark.master': 'k8s://https://kubernetes.default.svc',
    'spark.submit.deployMode': 'client',
    'spark.app.name': name,
    'spark.kubernetes.namespace': options.namespace,
    'spark.kubernetes.container.image': options.image,
    'spark.kubernetes.authenticate.driver.serviceAccountName': SERVICE_ACCOUNT,
    'spark.kubernetes.executor.podTemplateFile': `${JOB_DIR}/executor-template.yaml`,
    'spark.kubernetes.executor.podTemplateContainerName': EXECUTOR,
    'spark.executor.instances': String(options.executors),
    'spark.executor.cores': '1',
    'spark.executor.memory': '2g',
    ...conf,
  }
  data['spark.properties'] = propertiesText(properties)
  data['executor-template.yaml'] = stringify(
    { apiVersion: 'v1', kind: 'Pod', ...pods.template('executor', jobIdFromLabel()) },
    { lineWidth: 0 },
  )
  const driverTemplate = pods.template('driver', [
    fieldEnv('SUBROSA_POD_UID', 'metadata.uid'),
    fieldEnv('SUBROSA_POD_NAME', 'metadata.name'),
    fieldEnv('SUBROSA_POD_IP', 'status.podIP'),
    { name: 'SUBROSA_JOB_ID', value: 'spark-$(SUBROSA_POD_UID)' },
  ])
  const spec = driverTemplate.spec
  const [container] = spec.containers
  const pod: Manifest = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, labels: { ...labels, 'subrosa.dev/role': 'driver' } },
    spec: {
      ...spec,
      serviceAccountName: SERVICE_ACCOUNT,
      restartPolicy: 'Never',
      containers: [
        {
          ...container,
          command: [
            ...(container?.command ?? []),
            '/opt/spark/bin/spark-submit',
            '--properties-file',
            `${JOB_DIR}/spark.properties`,
            '--conf',
            'spark.app.id=$(SUBROSA_JOB_ID)',
            '--conf',
            'spark.driver.host=$(SUBROSA_POD_IP)',
            '--conf',
            'spark.kubernetes.driver.pod.name=$(SUBROSA_POD_NAME)',
            RUNNER,
            `${JOB_DIR}/plan.json`,
          ],
        },
      ],
    },
  }
  return [configMapOf(configMapName, metadata, data), pod]
}

type Env = { name: string; value?: string; valueFrom?: unknown }

function fieldEnv(name: string, fieldPath: string): Env {
  return { name, valueFrom: { fieldRef: { fieldPath } } }
}

/** Driver and executor pods of one Spark app share `spark-app-selector` (the Spark app id). */
function jobIdFromLabel(): Env[] {
  return [fieldEnv('SUBROSA_JOB_ID', "metadata.labels['spark-app-selector']")]
}

function podParts(options: SparkRenderOptions, workload: string, configMapName: string) {
  const template = (role: 'driver' | 'executor', env: Env[]) => {
    const command = [
      SUBROSA,
      'launch',
      '--spark-entrypoint',
      '--policy',
      workload,
      '--job',
      '$(SUBROSA_JOB_ID)',
      '--secret-file',
      SPARK_SECRET_FILE,
      '--broker',
      options.broker,
      '--ca',
      `${BROKER_CA_DIR}/ca.pem`,
      '--tee',
      'auto',
      '--bundle',
      JOB_DIR,
      ...(role === 'driver' ? ['--end-job'] : []),
      '--',
      ...(options.rawPod && role === 'driver' ? [] : ['/opt/entrypoint.sh']),
    ]
    const tee = options.tee ?? {}
    const resources = tee.resources ?? {}
    return {
      metadata: { labels: { 'subrosa.dev/role': role } },
      spec: {
        ...(tee.runtimeClassName === undefined ? {} : { runtimeClassName: tee.runtimeClassName }),
        ...(tee.nodeSelector === undefined || Object.keys(tee.nodeSelector).length === 0
          ? {}
          : { nodeSelector: { ...tee.nodeSelector } }),
        automountServiceAccountToken: role === 'driver',
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 185,
          seccompProfile: { type: 'RuntimeDefault' },
        },
        containers: [
          {
            name: role === 'driver' ? DRIVER : EXECUTOR,
            image: options.image,
            command,
            env,
            ...(Object.keys(resources).length === 0
              ? {}
              : { resources: { requests: { ...resources }, limits: { ...resources } } }),
            securityContext: {
              allowPrivilegeEscalation: false,
              capabilities: { drop: ['ALL'] },
            },
            volumeMounts: [
              { name: 'subrosa-spark-secret', mountPath: SPARK_SECRET_DIR },
              { name: 'subrosa-job', mountPath: JOB_DIR, readOnly: true },
              { name: 'subrosa-broker-ca', mountPath: BROKER_CA_DIR, readOnly: true },
            ],
          },
        ],
        volumes: [
          { name: 'subrosa-spark-secret', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
          { name: 'subrosa-job', configMap: { name: configMapName } },
          { name: 'subrosa-broker-ca', configMap: { name: 'subrosa-broker-ca' } },
        ],
      },
    }
  }
  return { template }
}

function configMapOf(
  name: string,
  metadata: { namespace: string; labels: Record<string, string> },
  data: Record<string, string>,
): Manifest {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: metadata.namespace, labels: metadata.labels },
    data,
  }
}

/** Java properties text (`key=value`), sorted, with backslashes and line breaks escaped. */
export function propertiesText(properties: Record<string, string>): string {
  const escaped = (s: string) =>
    s.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r')
  return `${Object.keys(properties)
    .sort()
    .map(
      (k) =>
        `${escaped(k).replaceAll('=', '\\=').replaceAll(':', '\\:')}=${escaped(properties[k] as string)}`,
    )
    .join('\n')}\n`
}

/** Manifests as one multi-document YAML stream, as `kubectl apply -f` reads it. */
export function manifestsYaml(manifests: readonly Manifest[]): string {
  return manifests.map((m) => stringify(m, { lineWidth: 0 })).join('---\n')
}

export type { SparkPlan }
