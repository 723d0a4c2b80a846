// Shapes shared by the Kubernetes renderer: a manifest object, the render options and overlays.

/** A Kubernetes object as plain data (validated in tests against the OpenAPI models). */
export type K8sObject = {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata: {
    readonly name: string
    readonly namespace?: string
    readonly labels?: Readonly<Record<string, string>>
    readonly annotations?: Readonly<Record<string, string>>
  }
  readonly [field: string]: unknown
}

/** The kustomize overlays under `deploy/overlays` (`base` is `deploy/base` itself). */
export const OVERLAYS = ['base', 'pglite', 'sgx', 'sgx-aks', 'cvm'] as const

export type OverlayName = (typeof OVERLAYS)[number]

/** What `subrosa k8s render` varies; everything else is fixed by the overlay. */
export type RenderOptions = {
  readonly overlay: OverlayName
  /** Namespace of the broker and its objects (DNS-1123 label). */
  readonly namespace: string
  /** Broker replicas (always 1 for `pglite`). */
  readonly replicas: number
  /** Image whose entrypoint is the `subrosa` CLI; pin it by digest in production. */
  readonly image: string
}

/** Defaults of {@link RenderOptions}: what the committed `deploy/` tree is rendered with. */
export const DEFAULT_OPTIONS: RenderOptions = {
  overlay: 'base',
  namespace: 'subrosa',
  replicas: 3,
  image: 'registry.example/subrosa/subrosa:0.1.0',
}

/** An RFC 6902 operation, as kustomize applies it to one target object. */
export type JsonPatchOp =
  | { readonly op: 'add' | 'replace'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string }

/** Which object a patch or deletion applies to. */
export type Target = { readonly kind: string; readonly name: string; readonly namespace?: string }

/**
 * An overlay as data: the renderer applies it in TypeScript and writes the same thing as a
 * kustomization (resources, JSON 6902 patches, `$patch: delete`), so both give one result.
 */
export type Overlay = {
  readonly name: Exclude<OverlayName, 'base'>
  /** The overlay it builds on. */
  readonly parent: OverlayName
  /** Objects the overlay adds. */
  readonly resources: readonly K8sObject[]
  /** Objects of the parent it removes. */
  readonly deletes: readonly Target[]
  readonly patches: readonly { readonly target: Target; readonly ops: readonly JsonPatchOp[] }[]
}
