// Test helper: validate rendered objects against the Kubernetes OpenAPI models of the
// `kubernetes-models` package (a devDependency: only tests import this file).
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { StatefulSet } from 'kubernetes-models/apps/v1/StatefulSet'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role'
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Namespace } from 'kubernetes-models/v1/Namespace'
import { PodTemplate } from 'kubernetes-models/v1/PodTemplate'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import type { K8sObject } from './types.ts'

type Model = new (data: never) => { validate(): void }

/** Model class per `apiVersion/kind` the renderer emits. */
export const MODELS: Readonly<Record<string, Model>> = {
  'v1/Namespace': Namespace as Model,
  'v1/ServiceAccount': ServiceAccount as Model,
  'v1/Service': Service as Model,
  'v1/ConfigMap': ConfigMap as Model,
  'v1/PodTemplate': PodTemplate as Model,
  'apps/v1/Deployment': Deployment as Model,
  'apps/v1/StatefulSet': StatefulSet as Model,
  'apps/v1/DaemonSet': DaemonSet as Model,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as Model,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as Model,
  'rbac.authorization.k8s.io/v1/Role': Role as Model,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding as Model,
}

/** Instantiate the object's model and `.validate()` it; throws on a schema violation. */
export function validateObject(o: K8sObject): void {
  const Model = MODELS[`${o.apiVersion}/${o.kind}`]
  if (Model === undefined) throw new Error(`No OpenAPI model for ${o.apiVersion}/${o.kind}`)
  new Model(structuredClone(o) as never).validate()
}
