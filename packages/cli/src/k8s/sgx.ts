// deploy/overlays/sgx and sgx-aks: the broker on SGX nodes with EPC, and per SGX node a DCAP
// quote helper (aesmd, socket on the host for enclaves) beside a PCCS-style collateral cache
// that quote generation and the broker's verification both read.

import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IService } from 'kubernetes-models/v1/Service'
import type { IToleration } from 'kubernetes-models/v1/Toleration'
import { dnsEgressRule } from './base.ts'
import { containerSecurityContext, labels, podSecurityContext, selectorLabels } from './broker.ts'
import type { K8sObject, Overlay, RenderOptions, Target } from './types.ts'

/** Port of the collateral cache (plain HTTP: collateral is signed by Intel and public). */
export const PCCS_PORT = 8081
const INTEL_EPC = 'sgx.intel.com/epc'
const AKS_EPC = 'kubernetes.azure.com/sgx_epc_mem_in_MiB'

/** Namespace of the SGX node services (hostPath: Pod Security `privileged`). */
export function sgxNamespace(options: RenderOptions): string {
  return `${options.namespace}-sgx`
}

function pccsUrl(options: RenderOptions): string {
  return `http://subrosa-pccs.${sgxNamespace(options)}.svc:${PCCS_PORT}`
}

/** Tolerates the taint operators put on TEE node pools: `subrosa.dev/tee=<kind>:NoSchedule`. */
export function teeToleration(kind: string): IToleration {
  return { key: 'subrosa.dev/tee', operator: 'Equal', value: kind, effect: 'NoSchedule' }
}

const esc = (key: string) => key.replaceAll('~', '~0').replaceAll('/', '~1')

function sgxObjects(options: RenderOptions): K8sObject[] {
  const ns = sgxNamespace(options)
  const meta = (name: string, component = 'sgx') => ({
    name,
    namespace: ns,
    labels: labels(component),
  })
  const helper = selectorLabels('sgx-quote-helper')
  const qcnl = {
    pccs_url: `${pccsUrl(options)}/sgx/certification/v4/`,
    use_secure_cert: false,
    retry_times: 6,
    retry_delay: 10,
    pck_cache_expire_hours: 168,
  }
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: ns,
        labels: {
          ...labels('namespace'),
          'pod-security.kubernetes.io/enforce': 'privileged',
          'pod-security.kubernetes.io/audit': 'restricted',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
      },
    } satisfies INamespace,
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: meta('subrosa-sgx-qcnl'),
      data: { 'sgx_default_qcnl.conf': `${JSON.stringify(qcnl, null, 2)}\n` },
    } satisfies IConfigMap,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta('subrosa-pccs'),
      spec: {
        type: 'ClusterIP',
        // Each node's quote helper answers its own node's callers.
        internalTrafficPolicy: 'Local',
        selector: helper,
        ports: [{ name: 'http', port: PCCS_PORT, targetPort: 'http', protocol: 'TCP' }],
      },
    } satisfies IService,
    {
      apiVersion: 'apps/v1',
      kind: 'DaemonSet',
      metadata: meta('subrosa-sgx-quote-helper'),
      spec: {
        selector: { matchLabels: helper },
        updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
        template: {
          metadata: { labels: labels('sgx-quote-helper') },
          spec: {
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            securityContext: podSecurityContext(),
            nodeSelector: { 'sgx.intel.com/capable': 'true' },
            tolerations: [teeToleration('sgx')],
            containers: [
              {
                name: 'aesmd',
                image: 'registry.example/subrosa/sgx-aesmd:2.25',
                imagePullPolicy: 'IfNotPresent',
                resources: {
                  requests: { cpu: '50m', memory: '64Mi' },
                  limits: {
                    cpu: '500m',
                    memory: '256Mi',
                    'sgx.intel.com/enclave': '1',
                    'sgx.intel.com/provision': '1',
                    [INTEL_EPC]: '16Mi',
                  },
                },
                securityContext: containerSecurityContext(),
                volumeMounts: [
                  { name: 'aesmd-socket', mountPath: '/var/run/aesmd' },
                  {
                    name: 'qcnl',
                    mountPath: '/etc/sgx_default_qcnl.conf',
                    subPath: 'sgx_default_qcnl.conf',
                    readOnly: true,
                  },
                  { name: 'aesmd-data', mountPath: '/var/opt/aesmd' },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
              {
                name: 'collateral-cache',
                image: 'registry.example/subrosa/pccs:0.1.0',
                imagePullPolicy: 'IfNotPresent',
                env: [
                  {
                    name: 'PCS_API_KEY',
                    valueFrom: {
                      secretKeyRef: { name: 'subrosa-pccs', key: 'api-key', optional: true },
                    },
                  },
                ],
                ports: [{ name: 'http', containerPort: PCCS_PORT, protocol: 'TCP' }],
                readinessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 10 },
                livenessProbe: { tcpSocket: { port: 'http' }, periodSeconds: 20 },
                resources: {
                  requests: { cpu: '50m', memory: '64Mi' },
                  limits: { cpu: '500m', memory: '256Mi' },
                },
                securityContext: containerSecurityContext(),
                volumeMounts: [{ name: 'cache', mountPath: '/var/cache/pccs' }],
              },
            ],
            volumes: [
              // Enclaves on the node (Gramine, the launcher) reach aesmd through this socket.
              {
                name: 'aesmd-socket',
                hostPath: { path: '/var/run/aesmd', type: 'DirectoryOrCreate' },
              },
              { name: 'qcnl', configMap: { name: 'subrosa-sgx-qcnl' } },
              { name: 'aesmd-data', emptyDir: { sizeLimit: '16Mi' } },
              { name: 'tmp', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
              { name: 'cache', emptyDir: { sizeLimit: '256Mi' } },
            ],
          },
        },
      },
    } satisfies IDaemonSet,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('subrosa-default-deny', 'network'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    } satisfies INetworkPolicy,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('subrosa-allow-dns', 'network'),
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [dnsEgressRule()] },
    } satisfies INetworkPolicy,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta('subrosa-pccs', 'network'),
      spec: {
        podSelector: { matchLabels: helper },
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: PCCS_PORT }] }],
        // The cache fills itself from Intel's PCS over HTTPS.
        egress: [{ ports: [{ protocol: 'TCP', port: 443 }] }],
      },
    } satisfies INetworkPolicy,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: {
        name: 'subrosa-broker-egress-pccs',
        namespace: options.namespace,
        labels: labels('network'),
      },
      spec: {
        podSelector: { matchLabels: selectorLabels('broker') },
        policyTypes: ['Egress'],
        egress: [
          {
            to: [
              {
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
                podSelector: { matchLabels: helper },
              },
            ],
            ports: [{ protocol: 'TCP', port: PCCS_PORT }],
          },
        ],
      },
    } satisfies INetworkPolicy,
  ]
}

const BROKER: Target = { kind: 'Deployment', name: 'subrosa-broker' }
const POD = '/spec/template/spec'
const LIMITS = `${POD}/containers/0/resources/limits`

/** SGX nodes with Intel's device plugin (`sgx.intel.com/*`, node label from its NFD rules). */
export function sgxOverlay(options: RenderOptions): Overlay {
  return {
    name: 'sgx',
    parent: 'base',
    resources: sgxObjects(options),
    deletes: [],
    patches: [
      {
        target: BROKER,
        ops: [
          { op: 'add', path: `${POD}/nodeSelector`, value: { 'sgx.intel.com/capable': 'true' } },
          { op: 'add', path: `${POD}/tolerations`, value: [teeToleration('sgx')] },
          { op: 'add', path: `${LIMITS}/${esc(INTEL_EPC)}`, value: '512Mi' },
          { op: 'add', path: `${LIMITS}/${esc('sgx.intel.com/enclave')}`, value: '1' },
          { op: 'add', path: `${POD}/containers/0/args/-`, value: '--pccs' },
          { op: 'add', path: `${POD}/containers/0/args/-`, value: pccsUrl(options) },
        ],
      },
    ],
  }
}

/** AKS SGX node pools (DCsv3 with the confcom add-on): its EPC resource, a pool label. */
export function sgxAksOverlay(options: RenderOptions): Overlay {
  const helper: Target = {
    kind: 'DaemonSet',
    name: 'subrosa-sgx-quote-helper',
    namespace: sgxNamespace(options),
  }
  const pool = { 'subrosa.dev/tee': 'sgx' }
  return {
    name: 'sgx-aks',
    parent: 'sgx',
    resources: [],
    deletes: [],
    patches: [
      {
        target: BROKER,
        ops: [
          { op: 'replace', path: `${POD}/nodeSelector`, value: pool },
          { op: 'remove', path: `${LIMITS}/${esc(INTEL_EPC)}` },
          { op: 'remove', path: `${LIMITS}/${esc('sgx.intel.com/enclave')}` },
          { op: 'add', path: `${LIMITS}/${esc(AKS_EPC)}`, value: '512' },
        ],
      },
      {
        target: helper,
        ops: [
          { op: 'replace', path: `${POD}/nodeSelector`, value: pool },
          { op: 'remove', path: `${LIMITS}/${esc(INTEL_EPC)}` },
          { op: 'remove', path: `${LIMITS}/${esc('sgx.intel.com/enclave')}` },
          { op: 'remove', path: `${LIMITS}/${esc('sgx.intel.com/provision')}` },
          { op: 'add', path: `${LIMITS}/${esc(AKS_EPC)}`, value: '16' },
        ],
      },
    ],
  }
}
