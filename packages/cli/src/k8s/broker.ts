// The broker's pod: container, probes, volumes and the hardened security context that every
// container Subrosa renders carries.
import type { IContainer } from 'kubernetes-models/v1/Container'
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext'
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'
import type { IProbe } from 'kubernetes-models/v1/Probe'
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext'
import type { RenderOptions } from './types.ts'

/** Port the broker serves HTTPS on, in the container and the Service. */
export const BROKER_PORT = 8443
/** Non-root UID/GID of every Subrosa container. */
export const SUBROSA_UID = 10001

/** Names of the Secrets and ConfigMaps the manifests refer to; the operator creates them. */
export const REFERENCES = {
  /** Secret, key `url`: `postgres://user:password@host:5432/db?sslmode=verify-full`. */
  postgresSecret: { name: 'subrosa-postgres', key: 'url' },
  /** Secret, key `unseal.key`: the 32-byte unseal key in base64 (`subrosa broker start` format). */
  unsealSecret: { name: 'subrosa-unseal-key', key: 'unseal.key' },
  /** ConfigMap, key `ca.pem`: the CA that issues custodians' admin client certificates. */
  adminCaConfigMap: { name: 'subrosa-admin-client-ca', key: 'ca.pem' },
} as const

/** Labels of every object; `selectorLabels` of the broker's pods. */
export function labels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': 'subrosa',
    'app.kubernetes.io/component': component,
    'app.kubernetes.io/part-of': 'subrosa',
    'app.kubernetes.io/version': '0.1.0',
  }
}

/** The labels a selector matches (stable across versions). */
export function selectorLabels(component: string): Record<string, string> {
  return { 'app.kubernetes.io/name': 'subrosa', 'app.kubernetes.io/component': component }
}

/** Container security context: non-root, read-only root, no capabilities, no escalation. */
export function containerSecurityContext(): ISecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: SUBROSA_UID,
    runAsGroup: SUBROSA_UID,
    privileged: false,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  }
}

/** Pod security context: the same identity, and volumes group-readable by it. */
export function podSecurityContext(): IPodSecurityContext {
  return {
    runAsNonRoot: true,
    runAsUser: SUBROSA_UID,
    runAsGroup: SUBROSA_UID,
    fsGroup: SUBROSA_UID,
    seccompProfile: { type: 'RuntimeDefault' },
  }
}

/** The broker's public URL inside the cluster (tokens name it as issuer). */
export function brokerUrl(options: RenderOptions): string {
  return `https://subrosa-broker.${options.namespace}.svc:${BROKER_PORT}`
}

function probe(path: string, periodSeconds: number, failureThreshold: number): IProbe {
  return {
    httpGet: { path, port: 'https', scheme: 'HTTPS' },
    periodSeconds,
    timeoutSeconds: 3,
    failureThreshold,
  }
}

/**
 * The broker's pod spec. `store: 'postgres'` reads the database URL from the Secret reference
 * (env `SUBROSA_POSTGRES`, never a value in the manifest); `'pglite'` keeps state under the data
 * volume, which the caller backs with a PersistentVolumeClaim.
 */
export function brokerPodSpec(options: RenderOptions, store: 'postgres' | 'pglite'): IPodSpec {
  const { postgresSecret, unsealSecret, adminCaConfigMap } = REFERENCES
  const container: IContainer = {
    name: 'broker',
    image: options.image,
    imagePullPolicy: 'IfNotPresent',
    args: [
      'broker',
      'start',
      '--data-dir',
      '/var/lib/subrosa/data',
      '--unseal-key-file',
      `/etc/subrosa/unseal/${unsealSecret.key}`,
      '--host',
      '0.0.0.0',
      '--port',
      String(BROKER_PORT),
      '--public-url',
      brokerUrl(options),
      '--admin-client-ca',
      `/etc/subrosa/admin-ca/${adminCaConfigMap.key}`,
      '--drain-delay',
      '5',
      '--shutdown-timeout',
      '10',
    ],
    ...(store === 'postgres'
      ? {
          env: [
            {
              name: 'SUBROSA_POSTGRES',
              valueFrom: { secretKeyRef: { name: postgresSecret.name, key: postgresSecret.key } },
            },
          ],
        }
      : {}),
    ports: [{ name: 'https', containerPort: BROKER_PORT, protocol: 'TCP' }],
    startupProbe: probe('/healthz', 2, 30),
    livenessProbe: probe('/healthz', 10, 3),
    readinessProbe: probe('/readyz', 5, 2),
    resources: {
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    },
    securityContext: containerSecurityContext(),
    volumeMounts: [
      { name: 'data', mountPath: '/var/lib/subrosa' },
      { name: 'tmp', mountPath: '/tmp' },
      { name: 'unseal-key', mountPath: '/etc/subrosa/unseal', readOnly: true },
      { name: 'admin-ca', mountPath: '/etc/subrosa/admin-ca', readOnly: true },
    ],
  }
  return {
    serviceAccountName: 'subrosa-broker',
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    // Drain delay 5 s + shutdown timeout 10 s + 5 s margin (docs/operations.md).
    terminationGracePeriodSeconds: 20,
    securityContext: podSecurityContext(),
    containers: [container],
    volumes: [
      ...(store === 'postgres' ? [{ name: 'data', emptyDir: { sizeLimit: '256Mi' } }] : []),
      { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
      {
        name: 'unseal-key',
        secret: {
          secretName: unsealSecret.name,
          items: [{ key: unsealSecret.key, path: unsealSecret.key }],
          defaultMode: 0o440,
        },
      },
      {
        name: 'admin-ca',
        configMap: {
          name: adminCaConfigMap.name,
          items: [{ key: adminCaConfigMap.key, path: adminCaConfigMap.key }],
        },
      },
    ],
    topologySpreadConstraints: [
      {
        maxSkew: 1,
        topologyKey: 'kubernetes.io/hostname',
        whenUnsatisfiable: 'ScheduleAnyway',
        labelSelector: { matchLabels: selectorLabels('broker') },
      },
    ],
  }
}
