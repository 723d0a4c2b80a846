// deploy/base: the broker as a Deployment of N stateless replicas on PostgreSQL, with its
// Service, NetworkPolicies, ServiceAccount, (empty) RBAC and PodDisruptionBudget.
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment'
import type { INetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import type { INetworkPolicyEgressRule } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule'
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role'
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding'
import type { INamespace } from 'kubernetes-models/v1/Namespace'
import type { IService } from 'kubernetes-models/v1/Service'
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { BROKER_PORT, brokerPodSpec, labels, selectorLabels } from './broker.ts'
import type { K8sObject, RenderOptions } from './types.ts'

function meta(options: RenderOptions, name: string, component = 'broker') {
  return { name, namespace: options.namespace, labels: labels(component) }
}

/** DNS egress to the cluster resolver (CoreDNS/kube-dns in kube-system). */
export function dnsEgressRule(): INetworkPolicyEgressRule {
  return {
    to: [
      {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
        podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
      },
    ],
    ports: [
      { protocol: 'UDP', port: 53 },
      { protocol: 'TCP', port: 53 },
    ],
  }
}

/** The objects of deploy/base for these options. */
export function baseObjects(options: RenderOptions): K8sObject[] {
  const broker = selectorLabels('broker')
  return [
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: options.namespace,
        labels: {
          ...labels('namespace'),
          'pod-security.kubernetes.io/enforce': 'restricted',
          'pod-security.kubernetes.io/audit': 'restricted',
          'pod-security.kubernetes.io/warn': 'restricted',
        },
      },
    } satisfies INamespace,
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(options, 'subrosa-broker'),
      automountServiceAccountToken: false,
    } satisfies IServiceAccount,
    // The broker calls no Kubernetes API. The Role is empty on purpose: any future need shows
    // up as a reviewed rule here, and the token is not even mounted.
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(options, 'subrosa-broker'),
      rules: [],
    } satisfies IRole,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(options, 'subrosa-broker'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'subrosa-broker' },
      subjects: [{ kind: 'ServiceAccount', name: 'subrosa-broker', namespace: options.namespace }],
    } satisfies IRoleBinding,
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: meta(options, 'subrosa-broker'),
      spec: {
        type: 'ClusterIP',
        selector: broker,
        ports: [{ name: 'https', port: BROKER_PORT, targetPort: 'https', protocol: 'TCP' }],
      },
    } satisfies IService,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: meta(options, 'subrosa-broker'),
      spec: {
        replicas: options.replicas,
        revisionHistoryLimit: 5,
        selector: { matchLabels: broker },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
          metadata: { labels: labels('broker') },
          spec: brokerPodSpec(options, 'postgres'),
        },
      },
    } satisfies IDeployment,
    {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: meta(options, 'subrosa-broker'),
      spec: { maxUnavailable: 1, selector: { matchLabels: broker } },
    } satisfies IPodDisruptionBudget,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(options, 'subrosa-default-deny', 'network'),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    } satisfies INetworkPolicy,
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(options, 'subrosa-allow-dns', 'network'),
      spec: { podSelector: {}, policyTypes: ['Egress'], egress: [dnsEgressRule()] },
    } satisfies INetworkPolicy,
    // Workloads attest from any namespace (Spark pods, services): the broker port only.
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(options, 'subrosa-broker-ingress', 'network'),
      spec: {
        podSelector: { matchLabels: broker },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: BROKER_PORT }] }],
      },
    } satisfies INetworkPolicy,
    // PostgreSQL may run outside the cluster (a managed database): port 5432 only. Narrow `to`
    // to the database's address block or pods in your own overlay.
    {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: meta(options, 'subrosa-broker-egress-postgres', 'network'),
      spec: {
        podSelector: { matchLabels: broker },
        policyTypes: ['Egress'],
        egress: [{ ports: [{ protocol: 'TCP', port: 5432 }] }],
      },
    } satisfies INetworkPolicy,
  ]
}
