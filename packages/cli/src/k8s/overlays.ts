// deploy/overlays/pglite and cvm, and the table of every overlay.

import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import type { IAffinity } from 'kubernetes-models/v1/Affinity'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IPodTemplate } from 'kubernetes-models/v1/PodTemplate'
import {
  brokerPodSpec,
  brokerUrl,
  containerSecurityContext,
  labels,
  podSecurityContext,
  selectorLabels,
} from './broker.ts'
import { sgxAksOverlay, sgxOverlay, teeToleration } from './sgx.ts'
import type { Overlay, OverlayName, RenderOptions, Target } from './types.ts'

const BROKER: Target = { kind: 'Deployment', name: 'subrosa-broker' }

/** One broker whose PGlite state lives on a PersistentVolumeClaim (no PostgreSQL). */
function pgliteOverlay(options: RenderOptions): Overlay {
  return {
    name: 'pglite',
    parent: 'base',
    deletes: [BROKER, { kind: 'NetworkPolicy', name: 'subrosa-broker-egress-postgres' }],
    patches: [],
    resources: [
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: {
          name: 'subrosa-broker',
          namespace: options.namespace,
          labels: labels('broker'),
        },
        spec: {
          // PGlite is one process's embedded database: never more than one replica.
          replicas: 1,
          serviceName: 'subrosa-broker',
          podManagementPolicy: 'OrderedReady',
          updateStrategy: { type: 'RollingUpdate' },
          persistentVolumeClaimRetentionPolicy: { whenDeleted: 'Retain', whenScaled: 'Retain' },
          selector: { matchLabels: selectorLabels('broker') },
          template: {
            metadata: { labels: labels('broker') },
            spec: brokerPodSpec(options, 'pglite'),
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data', labels: labels('broker') },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
            },
          ],
        },
      } satisfies IStatefulSet,
    ],
  }
}

/**
 * Confidential-VM node pools (TDX or SEV-SNP; AKS labels them `security-type=ConfidentialVM`, NFD
 * labels TDX guests, other pools carry `subrosa.dev/tee=cvm`):
 * the broker runs there, and a PodTemplate shows how a launched workload mounts configfs-tsm.
 */
function cvmOverlay(options: RenderOptions): Overlay {
  const workloads = `${options.namespace}-workloads`
  // Any one of: AKS confidential-VM pools (SEV-SNP DCasv5/ECasv5, TDX DCesv5/ECesv5); TDX guests
  // as node-feature-discovery labels them; or a pool the operator labels itself (SEV-SNP guests).
  const affinity: IAffinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          ['kubernetes.azure.com/security-type', 'ConfidentialVM'],
          ['feature.node.kubernetes.io/cpu-security.tdx.protected', 'true'],
          ['subrosa.dev/tee', 'cvm'],
        ].map(([key = '', value = '']) => ({
          matchExpressions: [{ key, operator: 'In', values: [value] }],
        })),
      },
    },
  }
  const pod = '/spec/template/spec'
  return {
    name: 'cvm',
    parent: 'base',
    deletes: [],
    patches: [
      {
        target: BROKER,
        ops: [
          { op: 'add', path: `${pod}/affinity`, value: affinity },
          { op: 'add', path: `${pod}/tolerations`, value: [teeToleration('cvm')] },
        ],
      },
    ],
    resources: [
      {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: {
          name: workloads,
          labels: {
            ...labels('namespace'),
            // configfs-tsm is a hostPath mount, which only `privileged` admits.
            'pod-security.kubernetes.io/enforce': 'privileged',
            'pod-security.kubernetes.io/audit': 'restricted',
            'pod-security.kubernetes.io/warn': 'restricted',
          },
        },
      } satisfies INamespace,
      {
        apiVersion: 'v1',
        kind: 'PodTemplate',
        metadata: { name: 'subrosa-launcher', namespace: workloads, labels: labels('launcher') },
        template: {
          metadata: { labels: labels('launcher') },
          spec: {
            restartPolicy: 'Never',
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurityContext(),
            affinity,
            tolerations: [teeToleration('cvm')],
            containers: [
              {
                name: 'launcher',
                image: options.image,
                imagePullPolicy: 'IfNotPresent',
                args: [
                  'launch',
                  '--broker',
                  brokerUrl(options),
                  '--ca',
                  '/etc/subrosa/broker-ca/ca.pem',
                  '--tee',
                  'auto',
                  '--policy',
                  'example/policy/workload',
                  '--',
                  '/app/workload',
                ],
                resources: {
                  requests: { cpu: '500m', memory: '512Mi' },
                  limits: { cpu: '2', memory: '2Gi' },
                },
                securityContext: containerSecurityContext(),
                volumeMounts: [
                  { name: 'configfs', mountPath: '/sys/kernel/config' },
                  { name: 'broker-ca', mountPath: '/etc/subrosa/broker-ca', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              // The launcher creates a report entry under tsm/report and reads the quote back.
              { name: 'configfs', hostPath: { path: '/sys/kernel/config', type: 'Directory' } },
              { name: 'broker-ca', configMap: { name: 'subrosa-broker-ca' } },
              { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
            ],
          },
        },
      } satisfies IPodTemplate,
    ],
  }
}

/** The overlay called `name` for these options, or undefined for `base`. */
export function overlayOf(name: OverlayName, options: RenderOptions): Overlay | undefined {
  switch (name) {
    case 'base':
      return undefined
    case 'pglite':
      return pgliteOverlay(options)
    case 'sgx':
      return sgxOverlay(options)
    case 'sgx-aks':
      return sgxAksOverlay(options)
    case 'cvm':
      return cvmOverlay(options)
  }
}
