// Walk the pod specs and containers inside rendered objects (used by checks and tests).
import type { K8sObject } from './types.ts'

type Rec = Record<string, unknown>
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null ? (v as Rec) : {})

/** The pod spec inside a workload object or PodTemplate, if it has one. */
export function podSpecOf(o: K8sObject): Rec | undefined {
  const template = o.kind === 'PodTemplate' ? rec(o.template) : rec(rec(o.spec).template)
  const spec = template.spec
  return spec === undefined ? undefined : rec(spec)
}

/** Every container (init and regular) of every pod spec in `objects`, with its pod spec. */
export function containersOf(
  objects: readonly K8sObject[],
): { object: K8sObject; pod: Rec; container: Rec }[] {
  const out: { object: K8sObject; pod: Rec; container: Rec }[] = []
  for (const object of objects) {
    const pod = podSpecOf(object)
    if (pod === undefined) continue
    for (const list of [pod.initContainers, pod.containers])
      if (Array.isArray(list)) for (const c of list) out.push({ object, pod, container: rec(c) })
  }
  return out
}
